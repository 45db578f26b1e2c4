import { describe, expect, it } from '@jest/globals';
import { BadRequestException, type ArgumentMetadata } from '@nestjs/common';
import type { ClassConstructor } from 'class-transformer';
import fc from 'fast-check';
import { createValidationPipe } from '../common/validation.js';
import { ChangePasswordDto, LoginDto, RegisterDto, UpdateProfileDto } from './users.dto.js';

/** A valid body of each DTO: the generated cases change one field of it. */
const valid: [string, ClassConstructor<object>, Record<string, string>][] = [
  [
    'RegisterDto',
    RegisterDto,
    { username: 'alice', password: 'correct horse', displayName: 'Alice' },
  ],
  ['LoginDto', LoginDto, { username: 'alice', password: 'correct horse' }],
  ['UpdateProfileDto', UpdateProfileDto, { displayName: 'Alice', bio: 'Hello.' }],
  [
    'ChangePasswordDto',
    ChangePasswordDto,
    { currentPassword: 'correct horse', newPassword: 'battery staple' },
  ],
];

const notAString = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

async function fieldsRefused(dto: ClassConstructor<object>, body: unknown): Promise<string[]> {
  const meta: ArgumentMetadata = { type: 'body', metatype: dto };
  try {
    await createValidationPipe().transform(body, meta);
    return [];
  } catch (e) {
    if (!(e instanceof BadRequestException)) throw e;
    const res = e.getResponse() as { fields: Record<string, string[]> };
    return Object.keys(res.fields);
  }
}

describe('DTO rules', () => {
  it.each(valid)('%s accepts its valid body', async (_name, dto, body) => {
    expect(await fieldsRefused(dto, body)).toEqual([]);
  });

  it.each(valid)(
    '%s refuses a value of the wrong type in any field, null included, and names that field',
    async (_name, dto, body) => {
      const fields = Object.keys(body);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...fields), notAString, async (field, value) => {
          expect(await fieldsRefused(dto, { ...body, [field]: value })).toEqual([field]);
        }),
        { numRuns: 200 },
      );
    },
  );

  it('lets an optional field be left out', async () => {
    expect(await fieldsRefused(UpdateProfileDto, {})).toEqual([]);
    expect(
      await fieldsRefused(RegisterDto, { username: 'alice', password: 'correct horse' }),
    ).toEqual([]);
  });
});
