import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { SESSION_BACKEND } from '../session/session.tokens.js';
import type { SessionBackend } from '../session/backends/backend.js';

/**
 * Limits login attempts per username and per client address within a window. The counters live
 * in the session backend: with Redis all replicas share them; with the memory store each replica
 * counts alone, so N replicas allow N times the attempts (one more thing that breaks on scale-out).
 *
 * An attempt takes its slot *before* the password is checked, so parallel guesses can't all slip
 * through while the first ones are still hashing. A successful login gives the slots back.
 */
@Injectable()
export class LoginThrottle {
  constructor(
    private readonly config: AppConfig,
    @Inject(SESSION_BACKEND) private readonly backend: SessionBackend,
  ) {}

  private keys(username: string, ip: string) {
    const { maxAttempts } = this.config.login;
    return {
      user: { key: `user:${username.toLowerCase()}`, limit: maxAttempts },
      // One address may front many users (NAT), so it gets more room than one username.
      ip: { key: `ip:${ip}`, limit: maxAttempts * 4 },
    };
  }

  /**
   * Counts an attempt; throws 429 when either counter is past its limit. When the store fails
   * half-way (under Redis Cluster the two counters may live on different nodes, one of them
   * failing over), the count already taken is given back: an attempt that got a 503 must not
   * count, or a user would be locked out by a failover.
   */
  async take(username: string, ip: string): Promise<void> {
    const taken: string[] = [];
    try {
      await this.count(username, ip, taken);
    } catch (err) {
      if (!(err instanceof HttpException)) {
        await Promise.all(taken.map((key) => this.backend.attempts.release(key).catch(() => {})));
      }
      throw err;
    }
  }

  private async count(username: string, ip: string, taken: string[]): Promise<void> {
    const { windowMs } = this.config.login;
    for (const { key, limit } of Object.values(this.keys(username, ip))) {
      const hits = await this.backend.attempts.hit(key, windowMs);
      taken.push(key);
      if (hits > limit) {
        const retryAfter = Math.ceil(windowMs / 1000);
        throw new HttpException(
          {
            message: `Too many login attempts. Try again in up to ${Math.ceil(retryAfter / 60)} minutes.`,
            retryAfter,
          },
          HttpStatus.TOO_MANY_REQUESTS,
        );
      }
    }
  }

  /** The attempt could not be judged (a backend failed): both counters get their slot back. */
  async giveBack(username: string, ip: string): Promise<void> {
    for (const { key } of Object.values(this.keys(username, ip)))
      await this.backend.attempts.release(key);
  }

  /** The attempt was right: the username starts afresh and the address gets its slot back. */
  async succeeded(username: string, ip: string): Promise<void> {
    const { user, ip: address } = this.keys(username, ip);
    await this.backend.attempts.reset(user.key);
    await this.backend.attempts.release(address.key);
  }
}
