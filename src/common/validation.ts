import { BadRequestException, ValidationPipe } from '@nestjs/common';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';

export type FieldErrors = Record<string, string[]>;

function toFieldErrors(errors: ValidationError[], prefix = ''): FieldErrors {
  const out: FieldErrors = {};
  for (const e of errors) {
    const key = prefix + e.property;
    if (e.constraints) out[key] = Object.values(e.constraints);
    Object.assign(out, toFieldErrors(e.children ?? [], `${key}.`));
  }
  return out;
}

export function validationFailed(fields: FieldErrors): BadRequestException {
  return new BadRequestException({ message: 'Some fields are not valid.', fields });
}

/** The global pipe for JSON bodies: unknown fields are refused, each problem named by field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    exceptionFactory: (errors) => validationFailed(toFieldErrors(errors)),
  });
}

/**
 * The same rules for HTML forms, which carry a `_csrf` field and must re-render with the errors
 * rather than answer JSON. Returns the typed input or the field errors.
 */
export async function validateForm<T extends object>(
  cls: ClassConstructor<T>,
  body: unknown,
): Promise<{ value: T; errors?: undefined } | { value?: undefined; errors: FieldErrors }> {
  const { _csrf: _ignored, ...rest } = (body ?? {}) as Record<string, unknown>;
  const value = plainToInstance(cls, rest);
  const errors = await validate(value, { whitelist: true, forbidNonWhitelisted: true });
  return errors.length ? { errors: toFieldErrors(errors) } : { value };
}
