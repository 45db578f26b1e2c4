import { ConflictException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, type Repository } from 'typeorm';
import { User } from './user.entity.js';

const UNIQUE_VIOLATION = '23505';

@Injectable()
export class UsersService {
  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async create(input: {
    username: string;
    displayName: string;
    passwordHash: string;
  }): Promise<User> {
    try {
      return await this.users.save(this.users.create(input));
    } catch (err) {
      if (
        err instanceof QueryFailedError &&
        (err.driverError as { code?: string }).code === UNIQUE_VIOLATION
      ) {
        throw new ConflictException({
          message: 'That username is taken.',
          fields: { username: ['is taken'] },
        });
      }
      throw err;
    }
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  /** Case-insensitive, matching the unique index on lower(username). Includes the hash. */
  findForLogin(username: string): Promise<User | null> {
    return this.users
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('lower(u.username) = lower(:username)', { username })
      .getOne();
  }

  async passwordHashOf(id: string): Promise<string | null> {
    const row = await this.users
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('u.id = :id', { id })
      .getOne();
    return row?.passwordHash ?? null;
  }

  async update(
    id: string,
    changes: Partial<Pick<User, 'displayName' | 'bio' | 'passwordHash'>>,
  ): Promise<User | null> {
    if (Object.keys(changes).length) await this.users.update({ id }, changes);
    return this.findById(id);
  }
}
