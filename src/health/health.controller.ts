import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { Public } from '../auth/public.decorator.js';
import { AppConfig } from '../config/app-config.js';
import type { SessionBackend } from '../session/backends/backend.js';
import { SessionBackendState } from '../session/session.module.js';
import { SESSION_BACKEND } from '../session/session.tokens.js';
import { ShutdownState } from './shutdown-state.js';

type Check = { ok: true; ms: number } | { ok: false; ms: number; error: string };

@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly config: AppConfig,
    private readonly db: DataSource,
    @Inject(SESSION_BACKEND) private readonly backend: SessionBackend,
    private readonly backendState: SessionBackendState,
    private readonly shutdown: ShutdownState,
  ) {}

  /** The process is up and its event loop turns. Depends on nothing else. */
  @Get('live')
  live() {
    return { status: 'ok', replica: this.config.replicaName };
  }

  /**
   * Ready to serve: the session backend has started (e.g. received its state from a peer), and it
   * and Postgres both answer within the backend timeout.
   */
  @Get('ready')
  async ready(@Res({ passthrough: true }) res: Response) {
    const [database, sessionStore] = await Promise.all([
      this.check(() => this.db.query('SELECT 1')),
      this.check(() => this.backendReady()),
    ]);
    const ok = database.ok && sessionStore.ok && !this.shutdown.draining;
    res.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return {
      status: ok ? 'ok' : this.shutdown.draining ? 'shutting-down' : 'unavailable',
      replica: this.config.replicaName,
      checks: {
        database,
        sessionStore: {
          backend: this.config.session.store,
          ...sessionStore,
          // Counters for the operator and the benchmark, asking a replica directly; not for
          // anyone on the internet (nginx sets X-Forwarded-For on what it passes on).
          ...(this.backend.stats && !res.req.headers['x-forwarded-for']
            ? { stats: this.backend.stats() }
            : {}),
        },
      },
    };
  }

  private async backendReady(): Promise<void> {
    const { status, error } = this.backendState;
    if (status === 'starting') throw new Error('starting');
    if (status === 'failed') throw new Error(`failed to start: ${error ?? 'no reason given'}`);
    await this.backend.ready();
  }

  private async check(probe: () => Promise<unknown>): Promise<Check> {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error('timed out'));
          }, this.config.backendTimeoutMs);
        }),
      ]);
      return { ok: true, ms: Date.now() - started };
    } catch (err) {
      return {
        ok: false,
        ms: Date.now() - started,
        error: err instanceof Error ? err.message : String(err),
      };
    } finally {
      clearTimeout(timer);
    }
  }
}
