import { BadRequestException, SetMetadata, ValidationPipe } from '@nestjs/common';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validate } from 'class-validator';

export type FieldErrors = Record<string, string[]>;

/** What is read of a class-validator error (Nest's and class-validator's types both fit). */
interface FieldProblem {
  /** Missing when the body itself is not an object, though both types say it is always there. */
  property?: string;
  constraints?: Record<string, string>;
  children?: FieldProblem[];
}

function toFieldErrors(errors: FieldProblem[], prefix = ''): FieldErrors {
  const out: FieldErrors = {};
  for (const e of errors) {
    // No property: the body itself is not an object (forbidUnknownValues); '' is a key named so.
    const key = e.property === undefined ? 'body' : prefix + (e.property || '""');
    if (e.constraints?.unknownValue) out[key] = ['must be a JSON object'];
    else if (e.constraints) out[key] = Object.values(e.constraints);
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

/** Metadata key of {@link ValidatesBody}. */
export const VALIDATES_BODY = 'validatesBody';

export interface BodyContract {
  dto: ClassConstructor<object>;
  /** Fields the handler reads besides the DTO's (e.g. a form's `next`); `_csrf` goes without saying. */
  also: readonly string[];
}

/**
 * Says which DTO a handler validates its body with, where its signature can't: page handlers call
 * validateForm() themselves (a 400 re-renders the form rather than answering JSON), and the JSON
 * login is validated in LocalAuthGuard, before passport. Routes whose `@Body()` parameter is typed
 * with a DTO need nothing. Read by the generated hostile-input suite, so that every field of every
 * endpoint is found from the app itself.
 */
export const ValidatesBody = (dto: ClassConstructor<object>, also: readonly string[] = []) =>
  SetMetadata(VALIDATES_BODY, { dto, also } satisfies BodyContract);
