import { Injectable } from '@nestjs/common';
import { PassportSerializer } from '@nestjs/passport';
import type { Principal } from '../session/session.types.js';

/**
 * The whole principal goes into the session, and comes back out as is: knowing who is asking
 * costs one session-store read and no database query.
 */
@Injectable()
export class SessionSerializer extends PassportSerializer {
  serializeUser(user: Principal, done: (err: unknown, user?: Principal) => void): void {
    done(null, { id: user.id, username: user.username, displayName: user.displayName });
  }

  deserializeUser(payload: Principal, done: (err: unknown, user?: Principal) => void): void {
    done(null, payload);
  }
}
