import { Body, Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Principal } from '../session/session.types.js';
import { ValidatesBody } from '../common/validation.js';
import { LoginDto, RegisterDto } from '../users/users.dto.js';
import { AuthService } from './auth.service.js';
import { LocalAuthGuard } from './local-auth.guard.js';
import { Public } from './public.decorator.js';

@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** Creates the account and logs it in. */
  @Public()
  @Post('register')
  async register(@Body() body: RegisterDto, @Req() req: Request): Promise<{ user: Principal }> {
    const user = await this.auth.register(body);
    await this.auth.startSession(req, user);
    return { user };
  }

  @Public()
  @ValidatesBody(LoginDto)
  @UseGuards(LocalAuthGuard)
  @Post('login')
  @HttpCode(200)
  async login(@Req() req: Request): Promise<{ user: Principal }> {
    const user = req.user as Principal;
    await this.auth.startSession(req, user);
    return { user };
  }

  /** Idempotent: logging out without a session is not an error. */
  @Public()
  @Post('logout')
  @HttpCode(204)
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    await this.auth.endSession(req, res);
  }
}
