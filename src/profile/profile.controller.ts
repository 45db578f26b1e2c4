import { Body, Controller, Get, HttpCode, Patch, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { CurrentUser } from '../auth/current-user.decorator.js';
import type { Principal } from '../session/session.types.js';
import { ChangePasswordDto, UpdateProfileDto } from '../users/users.dto.js';
import { ProfileService, type ProfileView } from './profile.service.js';

@Controller('api/me')
export class ProfileController {
  constructor(private readonly profile: ProfileService) {}

  @Get()
  get(@CurrentUser() user: Principal): Promise<ProfileView> {
    return this.profile.get(user);
  }

  @Patch()
  update(
    @Req() req: Request,
    @CurrentUser() user: Principal,
    @Body() body: UpdateProfileDto,
  ): Promise<ProfileView> {
    return this.profile.update(req, user, body);
  }

  @Post('password')
  @HttpCode(200)
  changePassword(
    @Req() req: Request,
    @CurrentUser() user: Principal,
    @Body() body: ChangePasswordDto,
  ) {
    return this.profile.changePassword(req, user, body);
  }
}
