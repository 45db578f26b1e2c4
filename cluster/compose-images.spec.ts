import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defined } from '../src/common/defined.js';
import { composeImages, dockerfileBaseImages, imageRepository } from './compose-images.js';
import { generateCompose } from './compose.js';
import { PROJECT_ROOT } from './paths.js';

describe('compose images', () => {
  it("takes a Dockerfile's FROMs with ARG defaults, but not its own stages", () => {
    const dockerfile = [
      'ARG NODE_IMAGE=node:26-bookworm-slim',
      'FROM ${NODE_IMAGE} AS build',
      'FROM build AS test',
      'FROM --platform=linux/amd64 $NODE_IMAGE AS runtime',
    ].join('\n');
    expect(dockerfileBaseImages(dockerfile)).toEqual([
      'node:26-bookworm-slim',
      'node:26-bookworm-slim',
    ]);
  });

  it('lists what the compose file pulls and what its builds start from, not what it builds', () => {
    const compose = [
      'x-img: &img',
      '  image: app:local',
      'services:',
      '  a: { <<: *img, build: { context: ., dockerfile: d/Dockerfile } }',
      '  b: { <<: *img }',
      '  c: { image: "redis:7-alpine" }',
    ].join('\n');
    const files: Record<string, string> = { 'd/Dockerfile': 'FROM node:26 AS x\nFROM x' };
    expect(composeImages(compose, (f) => defined(files[f], `test file ${f}`))).toEqual([
      'node:26',
      'redis:7-alpine',
    ]);
  });

  it('names the repository of an image', () => {
    expect(imageRepository('postgres:16-alpine')).toBe('postgres');
    expect(imageRepository('docker.io/library/nginx:1.30')).toBe('nginx');
    expect(imageRepository('bitnami/redis:7')).toBe('bitnami/redis');
  });

  it('has a stand-in for every image the generated compose file needs (docker/standins/)', async () => {
    const images = composeImages(await generateCompose(), (f) =>
      readFileSync(join(PROJECT_ROOT, f), 'utf8'),
    );
    expect(images.length).toBeGreaterThan(0);
    const header = (image: string) => {
      const file = join(PROJECT_ROOT, 'docker/standins', imageRepository(image), 'Dockerfile');
      return existsSync(file) ? readFileSync(file, 'utf8').split('\n')[0] : 'no stand-in';
    };
    // Each says at its top that it is a stand-in and imitates only what the file relies on.
    for (const image of images)
      expect([image, header(image)]).toEqual([
        image,
        expect.stringMatching(/^# STAND-IN for the official/),
      ]);
  });
});
