import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { SESSION_BACKEND } from '../session/session.tokens.js';
import type { SessionBackend } from '../session/session.types.js';

/**
 * Limits failed logins per username and per client address within a window. The counters live
 * in the session backend: with Redis all replicas share them; with the memory store each replica
 * counts alone, so N replicas allow N times the attempts (one more thing that breaks on scale-out).
 */
@Injectable()
export class LoginThrottle {
  constructor(
    private readonly config: AppConfig,
    @Inject(SESSION_BACKEND) private readonly backend: SessionBackend,
  ) {}

  private keys(username: string, ip: string) {
    const { maxAttempts } = this.config.login;
    return [
      { key: `user:${username.toLowerCase()}`, limit: maxAttempts },
      // One address may front many users (NAT), so it gets more room than one username.
      { key: `ip:${ip}`, limit: maxAttempts * 4 },
    ];
  }

  async assertAllowed(username: string, ip: string): Promise<void> {
    for (const { key, limit } of this.keys(username, ip)) {
      if ((await this.backend.attempts.peek(key)) >= limit) {
        const retryAfter = Math.ceil(this.config.login.windowMs / 1000);
        throw new HttpException(
          {
            message: `Too many failed login attempts. Try again in up to ${Math.ceil(retryAfter / 60)} minutes.`,
            retryAfter,
          },
          HttpStatus.TOO_MANY_REQUESTS,
        );
      }
    }
  }

  async recordFailure(username: string, ip: string): Promise<void> {
    for (const { key } of this.keys(username, ip))
      await this.backend.attempts.hit(key, this.config.login.windowMs);
  }

  async recordSuccess(username: string): Promise<void> {
    await this.backend.attempts.reset(`user:${username.toLowerCase()}`);
  }
}
