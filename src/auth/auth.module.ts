import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { UsersModule } from '../users/users.module.js';
import { AuthController } from './auth.controller.js';
import { AuthPagesController } from './auth.pages.controller.js';
import { AuthService } from './auth.service.js';
import { LocalStrategy } from './local.strategy.js';
import { LoginThrottle } from './login-throttle.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionSerializer } from './session.serializer.js';

@Module({
  imports: [PassportModule.register({ session: true }), UsersModule],
  providers: [AuthService, PasswordHasher, LoginThrottle, LocalStrategy, SessionSerializer],
  controllers: [AuthController, AuthPagesController],
  exports: [AuthService, PasswordHasher],
})
export class AuthModule {}
