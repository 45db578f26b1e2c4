import { IsString, Length, Matches, ValidateIf } from 'class-validator';

/**
 * May be left out, but if given must pass the rules. class-validator's own IsOptional() also
 * lets `null` through unchecked, which would reach the handler as a value of the wrong type.
 */
const Optional = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

/** No control characters (newlines and tabs allowed only where said). */
const PLAIN_LINE = /^[^\p{Cc}\p{Cf}]*$/u;
const PLAIN_TEXT = /^(?:[^\p{Cc}\p{Cf}]|[\n\r\t])*$/u;

export const USERNAME_RULE = /^[A-Za-z0-9_.-]+$/;

export class RegisterDto {
  // ASCII only: no look-alike letters from other scripts; uniqueness ignores case.
  @IsString()
  @Length(3, 32)
  @Matches(USERNAME_RULE, {
    message: 'username may contain letters, digits, ".", "_" and "-" only',
  })
  username: string;

  @IsString()
  @Length(10, 128, { message: 'password must be 10 to 128 characters long' })
  password: string;

  @Optional()
  @IsString()
  @Length(1, 64)
  @Matches(PLAIN_LINE, { message: 'displayName must not contain control characters' })
  displayName?: string;
}

export class LoginDto {
  // The rules usernames are registered under: anything else names no account, so it is refused
  // as input (a 400 naming the field) before it costs a throttle slot, a hash or a query.
  @IsString()
  @Length(3, 32)
  @Matches(USERNAME_RULE, {
    message: 'username may contain letters, digits, ".", "_" and "-" only',
  })
  username: string;

  @IsString()
  @Length(1, 128)
  password: string;
}

export class UpdateProfileDto {
  @Optional()
  @IsString()
  @Length(1, 64)
  @Matches(PLAIN_LINE, { message: 'displayName must not contain control characters' })
  displayName?: string;

  @Optional()
  @IsString()
  @Length(0, 500)
  @Matches(PLAIN_TEXT, { message: 'bio must not contain control characters' })
  bio?: string;
}

export class ChangePasswordDto {
  @IsString()
  @Length(1, 128)
  currentPassword: string;

  @IsString()
  @Length(10, 128, { message: 'newPassword must be 10 to 128 characters long' })
  newPassword: string;
}
