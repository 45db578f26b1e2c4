import { Controller, Delete, Get, HttpCode, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppConfig } from '../config/app-config.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { Public } from '../auth/public.decorator.js';
import type { Placement } from './backends/backend.js';
import { endSession } from './end-session.js';
import type { Principal } from './session.types.js';
import { SessionsService, type SessionList } from './sessions.service.js';

export interface Whoami {
  authenticated: boolean;
  user?: Principal;
  servedBy: string;
  store: string;
  profile: string;
}

@Controller('api')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly config: AppConfig,
  ) {}

  /** Answers from the session alone (no database): the cheap request for the live view and the benchmark. */
  @Public()
  @Get('whoami')
  whoami(@Req() req: Request): Whoami {
    const user = req.isAuthenticated() ? (req.user as Principal) : undefined;
    return {
      authenticated: !!user,
      ...(user ? { user } : {}),
      servedBy: this.config.replicaName,
      store: this.config.session.store,
      profile: this.config.profile,
    };
  }

  @Get('sessions')
  list(@CurrentUser() user: Principal, @Req() req: Request): Promise<SessionList> {
    return this.sessions.list(user.id, req.sessionID, req.session.meta);
  }

  /** Where the caller's session lives and in which role (the profile page shows the same). */
  @Get('sessions/current/placement')
  async placement(@Req() req: Request): Promise<{ placement: Placement[] }> {
    return { placement: await this.sessions.placement(req.sessionID) };
  }

  /** Ends every session of the user except the one making the request. */
  @Delete('sessions')
  revokeOthers(@CurrentUser() user: Principal, @Req() req: Request) {
    return this.sessions.revokeOthers(user.id, req.sessionID);
  }

  @Delete('sessions/:id')
  @HttpCode(204)
  async revoke(
    @CurrentUser() user: Principal,
    @Param('id') id: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    const { wasCurrent } = await this.sessions.revoke(user.id, id, req.sessionID);
    if (wasCurrent) await endSession(req, res, this.config.session.cookieName);
  }
}
