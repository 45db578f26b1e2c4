import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Request } from 'express';
import { PasswordHasher } from '../auth/password-hasher.js';
import { SESSION_BACKEND } from '../session/session.tokens.js';
import type { SessionBackend } from '../session/backends/backend.js';
import { NoServerStateError } from '../session/backends/sealed-registry.js';
import { publicSessionId, type Principal } from '../session/session.types.js';
import type { User } from '../users/user.entity.js';
import type { ChangePasswordDto, UpdateProfileDto } from '../users/users.dto.js';
import { UsersService } from '../users/users.service.js';

export interface ProfileView {
  id: string;
  username: string;
  displayName: string;
  bio: string;
  createdAt: string;
}

const toView = (u: User): ProfileView => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  bio: u.bio,
  createdAt: u.createdAt.toISOString(),
});

@Injectable()
export class ProfileService {
  constructor(
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    @Inject(SESSION_BACKEND) private readonly backend: SessionBackend,
  ) {}

  async get(principal: Principal): Promise<ProfileView> {
    const user = await this.users.findById(principal.id);
    if (!user) throw new NotFoundException('This account no longer exists.');
    return toView(user);
  }

  async update(
    req: Request,
    principal: Principal,
    changes: UpdateProfileDto,
  ): Promise<ProfileView> {
    const user = await this.users.update(principal.id, {
      ...(changes.displayName !== undefined
        ? { displayName: changes.displayName.trim() || principal.username }
        : {}),
      ...(changes.bio !== undefined ? { bio: changes.bio } : {}),
    });
    if (!user) throw new NotFoundException('This account no longer exists.');
    // Keep the principal in this session in step, so pages show the new name at once.
    if (req.session.passport?.user) req.session.passport.user.displayName = user.displayName;
    return toView(user);
  }

  /**
   * Verifies the current password, stores the new one, and ends every other session of the user:
   * `revokedSessions` says how many (null: all, uncounted). Where the server keeps no sessions
   * (`stateless`) none can be ended; `othersStillValid` says so, and the password is changed all
   * the same.
   */
  async changePassword(
    req: Request,
    principal: Principal,
    input: ChangePasswordDto,
  ): Promise<{ revokedSessions: number | null; othersStillValid?: true }> {
    const hash = await this.users.passwordHashOf(principal.id);
    if (!(await this.hasher.verify(hash, input.currentPassword))) {
      throw new BadRequestException({
        message: 'The current password is wrong.',
        fields: { currentPassword: ['is wrong'] },
      });
    }
    await this.users.update(principal.id, {
      passwordHash: await this.hasher.hash(input.newPassword),
    });
    try {
      const keep = publicSessionId(req.sessionID);
      return { revokedSessions: await this.backend.registry.revokeAllExcept(principal.id, keep) };
    } catch (err) {
      if (!(err instanceof NoServerStateError)) throw err;
      return { revokedSessions: 0, othersStillValid: true };
    }
  }
}
