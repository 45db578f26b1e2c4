import { Controller, Get, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { AppConfig } from '../config/app-config.js';
import { endSession } from './end-session.js';
import type { Principal } from './session.types.js';
import { SessionsService } from './sessions.service.js';

@Controller('sessions')
export class SessionsPagesController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  async page(
    @CurrentUser() user: Principal,
    @Req() req: Request,
    @Res() res: Response,
    @Query('revoked') revoked?: string,
  ) {
    const list = await this.sessions.list(user.id, req.sessionID, req.session.meta);
    const count = Number(revoked);
    const notice =
      revoked === 'all'
        ? 'Every other session of yours is logged out.'
        : Number.isInteger(count) && count >= 0 && revoked
          ? `${count} session(s) logged out.`
          : undefined;
    res.render('sessions', { title: 'Your sessions', ...list, notice });
  }

  @Post('revoke-others')
  async revokeOthers(@CurrentUser() user: Principal, @Req() req: Request, @Res() res: Response) {
    const { revoked } = await this.sessions.revokeOthers(user.id, req.sessionID);
    res.redirect(303, `/sessions?revoked=${revoked ?? 'all'}`);
  }

  @Post(':id/revoke')
  async revoke(
    @CurrentUser() user: Principal,
    @Param('id') id: string,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    const { wasCurrent } = await this.sessions.revoke(user.id, id, req.sessionID);
    if (!wasCurrent) {
      res.redirect(303, '/sessions?revoked=1');
      return;
    }
    await endSession(req, res, this.config.session.cookieName);
    res.redirect(303, '/login');
  }
}
