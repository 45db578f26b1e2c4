import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import passport from 'passport';
import { AppConfig } from '../config/app-config.js';
import { describeDevice } from '../session/device.js';
import type { Principal } from '../session/session.types.js';

type Done<T> = (err: unknown, value?: T) => void;

/**
 * The whole principal goes into the session, and comes back out as is: knowing who is asking
 * costs one session-store read and no database query.
 *
 * Serializing is also where a new session is stamped with when and where it began: passport
 * calls it at login after regenerating the session and before saving it, so the session's first
 * write is complete (and the redis backend indexes it once, not twice).
 */
@Injectable()
export class SessionSerializer {
  constructor(private readonly config: AppConfig) {
    passport.serializeUser((req: Request, user: Express.User, done: Done<Principal>) => {
      this.serializeUser(req, user as Principal, done);
    });
    passport.deserializeUser<Principal>((payload, done) => {
      this.deserializeUser(payload, done);
    });
  }

  serializeUser(req: Request, user: Principal, done: Done<Principal>): void {
    const now = Date.now();
    req.session.meta = {
      createdAt: now,
      lastSeenAt: now,
      ip: req.ip ?? '',
      userAgent: describeDevice(req.get('user-agent')),
      replica: this.config.replicaName,
    };
    done(null, { id: user.id, username: user.username, displayName: user.displayName });
  }

  deserializeUser(payload: Principal, done: Done<Principal>): void {
    done(null, payload);
  }
}
