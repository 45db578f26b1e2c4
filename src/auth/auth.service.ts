import { Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppConfig } from '../config/app-config.js';
import { endSession } from '../session/end-session.js';
import type { Principal } from '../session/session.types.js';
import type { User } from '../users/user.entity.js';
import type { RegisterDto } from '../users/users.dto.js';
import { UsersService } from '../users/users.service.js';
import { LoginThrottle } from './login-throttle.js';
import { PasswordHasher } from './password-hasher.js';

export function toPrincipal(user: Pick<User, 'id' | 'username' | 'displayName'>): Principal {
  return { id: user.id, username: user.username, displayName: user.displayName };
}

@Injectable()
export class AuthService {
  constructor(
    private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
  ) {}

  async register(input: RegisterDto): Promise<Principal> {
    const user = await this.users.create({
      username: input.username,
      displayName: input.displayName?.trim() || input.username,
      passwordHash: await this.hasher.hash(input.password),
    });
    return toPrincipal(user);
  }

  /** The one credential check, used by the passport-local strategy and the login form. */
  async validateCredentials(username: string, password: string, ip: string): Promise<Principal> {
    await this.throttle.take(username, ip);
    let user: User | null;
    try {
      user = await this.users.findForLogin(username);
    } catch (err) {
      // The database failed, not the guess: the attempt must not count against anyone.
      await this.throttle.giveBack(username, ip);
      throw err;
    }
    const ok = await this.hasher.verify(user?.passwordHash, password);
    if (!user || !ok) throw new UnauthorizedException('Wrong username or password.');
    await this.throttle.succeeded(username, ip);
    return toPrincipal(user);
  }

  /**
   * Logs the principal in. passport regenerates the session here, so the id the client had
   * before login (perhaps planted by an attacker) is worthless afterwards; SessionSerializer
   * stamps the new session before passport saves it.
   */
  async startSession(req: Request, principal: Principal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      req.logIn(principal, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Logout: the session is destroyed in the store, so the old cookie fails on every replica. */
  endSession(req: Request, res: Response): Promise<void> {
    return endSession(req, res, this.config.session.cookieName);
  }
}
