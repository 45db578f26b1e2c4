/**
 * Every endpoint of the app, read from the app itself: Nest builds the module graph in preview mode
 * (no provider runs, so nothing connects to Postgres or Redis), DiscoveryService lists the
 * controllers, MetadataScanner their handlers, and the route metadata says the method, the path,
 * which parameters come from the body, the query string and the path, and which DTO the body is
 * validated with (the `@Body()` parameter's type, or `@ValidatesBody()` where the handler validates
 * it itself). The DTO's class-validator metadata gives the fields and their rules. A new
 * controller, route, query parameter or DTO field is covered without editing the suite.
 */
import { RequestMethod, type NestApplicationOptions } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { DiscoveryService, MetadataScanner, ModulesContainer, NestFactory } from '@nestjs/core';
import type { ClassConstructor } from 'class-transformer';
import { getMetadataStorage } from 'class-validator';
import { AppModule } from '../../src/app.module.js';
import { IS_PUBLIC } from '../../src/auth/public.decorator.js';
import { isJsonPath } from '../../src/common/request-kind.js';
import { VALIDATES_BODY, type BodyContract } from '../../src/common/validation.js';
import { AppConfig } from '../../src/config/app-config.js';

/** One DTO field, as its class-validator rules describe it. */
export interface Field {
  name: string;
  required: boolean;
  /** From @Length / @MinLength / @MaxLength; strings are the only type the DTOs use today. */
  minLength: number;
  maxLength: number;
  /** Every rule on the field, by class-validator's name (isString, isLength, matches, …). */
  rules: string[];
}

export interface Route {
  /** "POST /api/auth/login" */
  label: string;
  method: string;
  /** Express path pattern, e.g. /api/sessions/:id */
  path: string;
  /** JSON API (and health) routes answer JSON; the others are pages for a browser. */
  json: boolean;
  /** Reachable without logging in (`@Public()`). */
  public: boolean;
  /** The body the handler validates: its DTO's fields plus the fields it reads itself. */
  body?: { dto: ClassConstructor<object>; fields: Field[]; also: readonly string[] };
  /** Named `@Query('x')` parameters. */
  query: string[];
  /** Named `@Param('x')` parameters. */
  params: string[];
}

interface RouteArg {
  index: number;
  data?: unknown;
}

/** Rules the generator knows how to satisfy when it builds a valid baseline for a field. */
export const KNOWN_RULES = new Set([
  'isString',
  'isLength',
  'minLength',
  'maxLength',
  'matches',
  'isOptional',
  // ValidateIf: the field is optional when its condition skips a missing value.
  'conditionalValidation',
]);

/** Some rules have no constraints, though class-validator types them as always there. */
const constraintsOf = (m: { constraints?: unknown[] }) => m.constraints ?? [];

function fieldsOf(dto: ClassConstructor<object>): Field[] {
  const byName = new Map<string, Field>();
  for (const m of getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false)) {
    const f = byName.get(m.propertyName) ?? {
      name: m.propertyName,
      required: true,
      minLength: 0,
      maxLength: Infinity,
      rules: [],
    };
    const rule = m.name ?? m.type;
    f.rules.push(rule);
    const [a, b] = constraintsOf(m) as [number | undefined, number | undefined];
    if (rule === 'isOptional') f.required = false;
    if (rule === 'conditionalValidation') {
      const validates = m.constraints[0] as (object: object, value: unknown) => boolean;
      if (!validates({}, undefined)) f.required = false;
    }
    if (rule === 'isLength') {
      f.minLength = a ?? 0;
      f.maxLength = b ?? Infinity;
    }
    if (rule === 'minLength') f.minLength = a ?? 0;
    if (rule === 'maxLength') f.maxLength = a ?? Infinity;
    byName.set(m.propertyName, f);
  }
  return [...byName.values()];
}

const joinPath = (...parts: Array<string | undefined>) =>
  '/' +
  parts
    .flatMap((p) => (p ?? '').split('/'))
    .filter(Boolean)
    .join('/');

/** The app's routes, from its own controllers (no server is started). */
export async function discoverRoutes(): Promise<Route[]> {
  // Preview mode resolves the module graph without instantiating providers: the config only has
  // to parse, nothing connects to these URLs.
  const config = AppConfig.fromEnv({
    NODE_ENV: 'test',
    DATABASE_URL: 'postgres://preview@127.0.0.1:1/preview',
    SESSION_STORE: 'redis',
    REDIS_URL: 'redis://127.0.0.1:1',
    SESSION_SECRET: 'preview-preview-preview-preview-preview',
  });
  // Nest types its options as a class, but only reads them: a plain object of the fields used.
  const options: Pick<NestApplicationOptions, 'preview' | 'logger'> = {
    preview: true,
    logger: false,
  };
  const app = await NestFactory.create(AppModule.forRoot(config), options);
  try {
    const discovery = new DiscoveryService(app.get(ModulesContainer));
    const scanner = new MetadataScanner();
    const routes: Route[] = [];
    for (const wrapper of discovery.getControllers()) {
      const controller = wrapper.metatype as ClassConstructor<object> | null;
      if (!controller) continue;
      const base = Reflect.getMetadata(PATH_METADATA, controller) as string | undefined;
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of scanner.getAllMethodNames(proto)) {
        const handler = proto[name] as object;
        const subPath = Reflect.getMetadata(PATH_METADATA, handler) as
          string | string[] | undefined;
        if (subPath === undefined) continue;
        const method =
          RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const args = Object.entries(
          (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<
            string,
            RouteArg
          >,
        ).map(([key, arg]) => ({ type: Number(key.split(':')[0]), ...arg }));
        const types = (Reflect.getMetadata('design:paramtypes', proto, name) ?? []) as unknown[];
        // Nest keys route arguments "<RouteParamtypes number>:<index>".
        const ofType = (type: number) => args.filter((a) => a.type === type);
        const named = (type: RouteParamtypes) =>
          ofType(type)
            .filter((a) => typeof a.data === 'string')
            .map((a) => a.data as string);

        // The body's DTO: the type of the @Body() parameter when it is a class with rules,
        // otherwise what @ValidatesBody() declares.
        const bodyArg = ofType(RouteParamtypes.BODY).find((a) => a.data === undefined);
        const typed = bodyArg ? (types[bodyArg.index] as ClassConstructor<object>) : undefined;
        const contract = (Reflect.getMetadata(VALIDATES_BODY, handler) as
          BodyContract | undefined) ?? {
          dto: typed,
          also: [],
        };
        const fields = contract.dto ? fieldsOf(contract.dto) : [];
        const body =
          contract.dto && fields.length
            ? { dto: contract.dto, fields, also: contract.also }
            : undefined;

        for (const sub of Array.isArray(subPath) ? subPath : [subPath]) {
          const path = joinPath(base, sub);
          routes.push({
            label: `${method} ${path}`,
            method,
            path,
            json: isJsonPath(path),
            public: !!(
              Reflect.getMetadata(IS_PUBLIC, handler) ?? Reflect.getMetadata(IS_PUBLIC, controller)
            ),
            ...(body ? { body } : {}),
            query: named(RouteParamtypes.QUERY),
            params: named(RouteParamtypes.PARAM),
          });
        }
      }
    }
    return routes.sort((a, b) => a.label.localeCompare(b.label));
  } finally {
    await app.close();
  }
}
