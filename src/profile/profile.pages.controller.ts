import { Body, Controller, Get, HttpException, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { validateForm, ValidatesBody, type FieldErrors } from '../common/validation.js';
import type { Principal } from '../session/session.types.js';
import { SessionsService } from '../session/sessions.service.js';
import { ChangePasswordDto, UpdateProfileDto } from '../users/users.dto.js';
import { ProfileService } from './profile.service.js';

const NOTICES: Record<string, string> = {
  saved: 'Profile saved.',
  password: 'Password changed. Your other sessions were logged out.',
  'password-only':
    'Password changed. Sessions on your other devices stay logged in until their cookies expire: this profile keeps no sessions on the server to end.',
};

@Controller('profile')
export class ProfilePagesController {
  constructor(
    private readonly profile: ProfileService,
    private readonly sessions: SessionsService,
  ) {}

  @Get()
  async page(
    @CurrentUser() user: Principal,
    @Res() res: Response,
    @Query('done') done?: string,
  ): Promise<void> {
    await this.render(res, user, { notice: done ? NOTICES[done] : undefined });
  }

  @Post()
  @ValidatesBody(UpdateProfileDto)
  async update(
    @Req() req: Request,
    @Res() res: Response,
    @CurrentUser() user: Principal,
    @Body() body: unknown,
  ) {
    const { value, errors } = await validateForm(UpdateProfileDto, body);
    if (errors) return this.render(res.status(400), user, { profileFields: errors });
    await this.profile.update(req, user, value);
    res.redirect(303, '/profile?done=saved');
  }

  @Post('password')
  @ValidatesBody(ChangePasswordDto)
  async changePassword(
    @Req() req: Request,
    @Res() res: Response,
    @CurrentUser() user: Principal,
    @Body() body: unknown,
  ) {
    const { value, errors } = await validateForm(ChangePasswordDto, body);
    if (errors) return this.render(res.status(400), user, { passwordFields: errors });
    try {
      const { othersStillValid } = await this.profile.changePassword(req, user, value);
      res.redirect(303, `/profile?done=${othersStillValid ? 'password-only' : 'password'}`);
    } catch (err) {
      if (!(err instanceof HttpException) || err.getStatus() >= 500) throw err;
      const fields = (err.getResponse() as { fields?: FieldErrors }).fields;
      await this.render(res.status(err.getStatus()), user, {
        passwordFields: fields,
        passwordError: err.message,
      });
    }
  }

  private async render(
    res: Response,
    user: Principal,
    extra: Record<string, unknown>,
  ): Promise<void> {
    res.render('profile', {
      title: 'Your profile',
      profile: await this.profile.get(user),
      // Which replica(s) or store hold this session, and in what role: the backend's own answer.
      placement: await this.sessions.placement(res.req.sessionID),
      ...extra,
    });
  }
}
