import { ConflictException } from '@nestjs/common';
import type { SessionRegistry } from '../session.types.js';

/**
 * "End my other sessions" where the server keeps none (`stateless`): a cookie that left for
 * another browser is valid until it expires, and nothing here can say otherwise. A 409 that says
 * so, rather than a count of zero that would read as "done".
 */
export class NoServerStateError extends ConflictException {
  constructor() {
    super(
      'This profile keeps no sessions on the server: other sessions cannot be ended, they last until their cookies expire.',
    );
  }
}

/**
 * The registry of a row that keeps each session only in its own cookie: there is no list to show
 * or revoke by id (the sessions page shows the caller's own session and says why). `cutOff`, where
 * the row has a denylist, ends every other session of a user at once; how many it ended nobody
 * knows (null).
 */
export function sealedRegistry(
  cutOff?: (userId: string, keepId: string | null) => Promise<void>,
): SessionRegistry {
  return {
    list: async () => [],
    revoke: async () => false,
    async revokeAllExcept(userId, keepId) {
      if (!cutOff) throw new NoServerStateError();
      await cutOff(userId, keepId);
      return null;
    },
  };
}
