import { Controller, Get, Headers, NotFoundException } from '@nestjs/common';
import { Public } from '../auth/public.decorator.js';
import { AppConfig } from '../config/app-config.js';
import { SessionsService } from './sessions.service.js';

export interface ReplicaSessions {
  replica: string;
  /** Sessions this replica holds itself, by role; null when they all live in a store. */
  held: Record<string, number> | null;
}

/**
 * For the cluster dashboard (cluster/dashboard/), which asks each replica directly. nginx never
 * forwards /internal/ (the template answers 404), and a request that came through nginx anyway
 * (it always sets X-Forwarded-For) is refused here too.
 */
@Public()
@Controller('internal')
export class SessionsInternalController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly config: AppConfig,
  ) {}

  @Get('sessions')
  held(@Headers('x-forwarded-for') forwarded?: string): ReplicaSessions {
    if (forwarded !== undefined) throw new NotFoundException();
    return { replica: this.config.replicaName, held: this.sessions.held() };
  }
}
