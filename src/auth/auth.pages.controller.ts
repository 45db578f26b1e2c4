import { Body, Controller, Get, HttpException, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppConfig } from '../config/app-config.js';
import { localPath } from '../common/page-locals.middleware.js';
import { validateForm, ValidatesBody } from '../common/validation.js';
import { LoginDto, RegisterDto } from '../users/users.dto.js';
import { AuthService } from './auth.service.js';
import { Public } from './public.decorator.js';

/** The login, registration and logout pages. Same service as the JSON API; errors re-render the form. */
@Public()
@Controller()
export class AuthPagesController {
  constructor(
    private readonly auth: AuthService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  home(@Req() req: Request, @Res() res: Response): void {
    res.redirect(303, req.isAuthenticated() ? '/profile' : '/login');
  }

  @Get('login')
  loginPage(@Req() req: Request, @Res() res: Response, @Query('next') next?: string): void {
    if (req.isAuthenticated()) {
      res.redirect(303, localPath(next));
      return;
    }
    // A session cookie this replica does not recognise: ended, or held by another replica.
    const unrecognised = !!(req.cookies as Record<string, string>)[this.config.session.cookieName];
    res.render('login', { title: 'Log in', next: localPath(next), values: {}, unrecognised });
  }

  @Post('login')
  @ValidatesBody(LoginDto, ['next'])
  async login(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    const next = localPath(body.next);
    const values = { username: typeof body.username === 'string' ? body.username : '' };
    const { value, errors } = await validateForm(LoginDto, {
      username: body.username,
      password: body.password,
    });
    if (errors) {
      res.status(400).render('login', { title: 'Log in', next, values, fields: errors });
      return;
    }
    try {
      const user = await this.auth.validateCredentials(
        value.username,
        value.password,
        req.ip ?? '',
      );
      await this.auth.startSession(req, user);
      res.redirect(303, next);
    } catch (err) {
      if (!(err instanceof HttpException) || err.getStatus() >= 500) throw err;
      res
        .status(err.getStatus())
        .render('login', { title: 'Log in', next, values, error: err.message });
    }
  }

  @Get('register')
  registerPage(@Req() req: Request, @Res() res: Response): void {
    if (req.isAuthenticated()) {
      res.redirect(303, '/profile');
      return;
    }
    res.render('register', { title: 'Create an account', values: {} });
  }

  @Post('register')
  @ValidatesBody(RegisterDto)
  async register(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    const values = { username: body.username, displayName: body.displayName };
    const input = { ...body, displayName: body.displayName || undefined };
    const { value, errors } = await validateForm(RegisterDto, input);
    if (errors) {
      res.status(400).render('register', { title: 'Create an account', values, fields: errors });
      return;
    }
    try {
      const user = await this.auth.register(value);
      await this.auth.startSession(req, user);
      res.redirect(303, '/profile');
    } catch (err) {
      if (!(err instanceof HttpException) || err.getStatus() >= 500) throw err;
      const detail = err.getResponse() as { fields?: Record<string, string[]> };
      res.status(err.getStatus()).render('register', {
        title: 'Create an account',
        values,
        fields: detail.fields,
        error: err.message,
      });
    }
  }

  @Post('logout')
  async logout(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.auth.endSession(req, res);
    res.redirect(303, '/login?bye=1');
  }
}
