import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { NotFoundException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cookie, type SessionData } from 'express-session';
import type { SessionBackend } from './backends/backend.js';
import { memoryBackend } from './backends/memory.backend.js';
import { SESSION_BACKEND, SESSION_BACKEND_RECORD } from './session.tokens.js';
import { publicSessionId, type Principal, type SessionMeta } from './session.types.js';
import { SessionsService } from './sessions.service.js';
import { defined } from '../common/defined.js';

const alice: Principal = { id: 'user-alice', username: 'alice', displayName: 'Alice' };
const bob: Principal = { id: 'user-bob', username: 'bob', displayName: 'Bob' };
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function store(
  backend: SessionBackend,
  sid: string,
  user: Principal,
  meta: Partial<SessionMeta> = {},
): Promise<void> {
  const sess: SessionData = {
    cookie: new Cookie(),
    passport: { user },
    meta: {
      createdAt: T0,
      lastSeenAt: T0,
      ip: '10.0.0.1',
      userAgent: 'jest',
      replica: 'app-1',
      ...meta,
    },
  };
  return new Promise((resolve, reject) => {
    defined(backend.store, "the memory backend's store").set(sid, sess, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

describe('SessionsService (memory backend)', () => {
  let backend: SessionBackend;
  let sessions: SessionsService;

  beforeEach(async () => {
    // Sessions are stored at T0 and read a minute later: well within their lifetime.
    jest.spyOn(Date, 'now').mockReturnValue(T0 + 60_000);
    backend = await memoryBackend.create({
      config: {},
      idleTimeoutMs: 3_600_000,
      absoluteTimeoutMs: 7_200_000,
      timeoutMs: 100,
      secrets: ['s'.repeat(32)],
      replica: 'app-1',
      onError: () => undefined,
    });
    const moduleRef = await Test.createTestingModule({
      providers: [
        SessionsService,
        { provide: SESSION_BACKEND, useValue: backend },
        { provide: SESSION_BACKEND_RECORD, useValue: memoryBackend },
      ],
    }).compile();
    sessions = moduleRef.get(SessionsService);

    await store(backend, 'sid-laptop', alice, {
      userAgent: 'laptop',
      lastSeenAt: T0 + 1000,
      replica: 'app-2',
    });
    await store(backend, 'sid-phone', alice, { userAgent: 'phone', lastSeenAt: T0 + 5000 });
    await store(backend, 'sid-tablet', alice, { userAgent: 'tablet', lastSeenAt: T0 + 3000 });
    await store(backend, 'sid-bob', bob);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await backend.close();
  });

  describe('list', () => {
    it('never shows a raw session id: each gets a stable, opaque public id', async () => {
      const { sessions: list } = await sessions.list(alice.id, 'sid-laptop');
      const ids = list.map((s) => s.id);

      for (const sid of ['sid-laptop', 'sid-phone', 'sid-tablet'])
        expect(ids).toContain(publicSessionId(sid));
      expect(JSON.stringify(list)).not.toContain('sid-');
      expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
      expect(publicSessionId('sid-laptop')).toBe(publicSessionId('sid-laptop'));
      expect(new Set(ids).size).toBe(3);
    });

    it("marks the caller's own session current and lists it first, then the most recently seen", async () => {
      const { sessions: list } = await sessions.list(alice.id, 'sid-laptop');

      expect(list.map((s) => [s.userAgent, s.current])).toEqual([
        ['laptop', true],
        ['phone', false],
        ['tablet', false],
      ]);
    });

    it('shows the session facts, with times as ISO strings', async () => {
      const { sessions: list } = await sessions.list(alice.id, 'sid-laptop');

      expect(list[0]).toEqual({
        id: publicSessionId('sid-laptop'),
        current: true,
        createdAt: new Date(T0).toISOString(),
        lastSeenAt: new Date(T0 + 1000).toISOString(),
        ip: '10.0.0.1',
        userAgent: 'laptop',
        replica: 'app-2',
      });
    });

    it("lists only the user's own sessions, and says the memory store sees one replica", async () => {
      const result = await sessions.list(bob.id, 'sid-bob');

      expect(result.scope).toBe('replica');
      expect(result.sessions).toHaveLength(1);
      expect(result.sessions.map((s) => s.id)).toEqual([publicSessionId('sid-bob')]);
    });

    it("marks nothing current when the caller's session is not among them", async () => {
      const { sessions: list } = await sessions.list(alice.id, 'sid-bob');

      expect(list.some((s) => s.current)).toBe(false);
    });
  });

  describe('revoke', () => {
    it("ends the session with that public id, and says it was not the caller's own", async () => {
      await expect(
        sessions.revoke(alice.id, publicSessionId('sid-phone'), 'sid-laptop'),
      ).resolves.toEqual({ wasCurrent: false });

      const left = (await backend.registry.list(alice.id)).map((s) => s.id).sort();
      expect(left).toEqual(['sid-laptop', 'sid-tablet'].map(publicSessionId).sort());
    });

    it('says so when the caller revoked its own session', async () => {
      await expect(
        sessions.revoke(alice.id, publicSessionId('sid-laptop'), 'sid-laptop'),
      ).resolves.toEqual({ wasCurrent: true });
    });

    it('answers 404 for an unknown public id', async () => {
      await expect(
        sessions.revoke(alice.id, 'AAAAAAAAAAAAAAAAAAAAAA', 'sid-laptop'),
      ).rejects.toThrow(NotFoundException);
    });

    it('answers 404 for the raw session id (only public ids are accepted)', async () => {
      await expect(sessions.revoke(alice.id, 'sid-phone', 'sid-laptop')).rejects.toThrow(
        NotFoundException,
      );
      expect(await backend.registry.list(alice.id)).toHaveLength(3);
    });

    it("answers 404 for another user's session, and leaves it alone", async () => {
      await expect(
        sessions.revoke(alice.id, publicSessionId('sid-bob'), 'sid-laptop'),
      ).rejects.toThrow(NotFoundException);

      expect(await backend.registry.list(bob.id)).toHaveLength(1);
    });

    it('answers 404 when the session ended in the meantime', async () => {
      const id = publicSessionId('sid-phone');
      await sessions.revoke(alice.id, id, 'sid-laptop');

      await expect(sessions.revoke(alice.id, id, 'sid-laptop')).rejects.toThrow(NotFoundException);
    });
  });

  describe('revokeOthers', () => {
    it("ends every other session of the user and keeps the caller's", async () => {
      await expect(sessions.revokeOthers(alice.id, 'sid-laptop')).resolves.toEqual({ revoked: 2 });

      expect((await backend.registry.list(alice.id)).map((s) => s.id)).toEqual([
        publicSessionId('sid-laptop'),
      ]);
      expect(await backend.registry.list(bob.id)).toHaveLength(1);
    });
  });
});
