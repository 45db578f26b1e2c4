import { Injectable, type OnModuleInit } from '@nestjs/common';
import argon2 from 'argon2';
import { AppConfig } from '../config/app-config.js';

/** argon2id with OWASP's minimum profile (19 MiB, 2 passes, 1 lane) unless configured higher. */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly config: AppConfig) {}

  /** Made at start-up so the first unknown-user login costs no more than any other. */
  async onModuleInit(): Promise<void> {
    await this.dummy();
  }

  private dummy(): Promise<string> {
    return (this.dummyHash ??= this.hash('not-a-real-password-just-burns-time'));
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, {
      type: argon2.argon2id,
      memoryCost: this.config.argon2MemoryKib,
      timeCost: 2,
      parallelism: 1,
    });
  }

  /**
   * Verifies against `hash`, or against a dummy hash when there is no such user, so that an
   * unknown username costs the same time as a wrong password and timing reveals nothing.
   */
  async verify(hash: string | null | undefined, password: string): Promise<boolean> {
    try {
      const ok = await argon2.verify(hash || (await this.dummy()), password);
      return ok && !!hash;
    } catch {
      return false;
    }
  }
}
