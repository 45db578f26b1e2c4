import { type ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import type { Request } from 'express';
import { validateForm, validationFailed } from '../common/validation.js';
import { LoginDto } from '../users/users.dto.js';

/**
 * Runs the passport-local strategy on the JSON body ({ username, password }). Guards run before
 * pipes, so the body is validated here first: bad input is a 400 with field errors, not a 401.
 */
@Injectable()
export class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const { errors } = await validateForm(
      LoginDto,
      context.switchToHttp().getRequest<Request>().body,
    );
    if (errors) throw validationFailed(errors);
    return (await super.canActivate(context)) as boolean;
  }
}
