import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { AppConfig } from '../config/app-config.js';
import { MAX_REDIRECT_LENGTH } from './page-locals.middleware.js';
import { backendUnavailable, Outages } from './outages.js';
import { wantsJson } from './request-kind.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** Field name -> problems, for 400s caused by input validation. */
  fields?: Record<string, string[]>;
  /** Seconds until a retry may succeed (429, 503); also sent as Retry-After. */
  retryAfter?: number;
  requestId?: string;
}

/**
 * The one place that shapes error responses: JSON for the API and health routes, a page (or a
 * redirect to the login page for 401) for the HTML routes. Also sees errors thrown by Express
 * middleware (body parser, session store, CSRF), so none of them escape as an Express 500 page.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');

  constructor(
    private readonly config: AppConfig,
    private readonly outages: Outages,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception, req);

    if (body.statusCode === 503) {
      // An outage of a backend: expected, and already explained in the body. No stack needed,
      // but the driver's own words say which outage it was (refused, timed out, a full pool).
      this.logger.warn({
        msg: body.message,
        requestId: req.requestId,
        path: req.path,
        ...outageCause(unwrapMiddlewareError(exception)),
      });
    } else if (body.statusCode >= 500) {
      const err = exception instanceof Error ? exception : new Error(String(exception));
      this.logger.error({
        msg: err.message,
        requestId: req.requestId,
        path: req.path,
        stack: err.stack,
      });
    }
    if (res.headersSent) return void res.end();
    if (body.retryAfter !== undefined) res.setHeader('Retry-After', String(body.retryAfter));

    if (wantsJson(req)) {
      res.status(body.statusCode).json(body);
    } else if (body.statusCode === 401) {
      // Encoding can triple a URL: one too long to come back as a Location is left out.
      const target = encodeURIComponent(req.originalUrl);
      const next =
        req.method === 'GET' && target.length <= MAX_REDIRECT_LENGTH ? `?next=${target}` : '';
      res.redirect(303, `/login${next}`);
    } else {
      // The error may come before the page middleware ran, so the layout's data is filled in here.
      const banner = {
        replica: this.config.replicaName,
        store: this.config.session.store,
        profile: this.config.profile,
      };
      res
        .status(body.statusCode)
        .render('error', { banner, csrfToken: '', ...res.locals, title: body.error, error: body });
    }
  }

  private toBody(thrown: unknown, req: Request): ErrorBody {
    const exception = unwrapMiddlewareError(thrown);
    const backend = this.outages.of(exception);
    const http =
      exception instanceof HttpException
        ? exception
        : backend
          ? backendUnavailable(backend)
          : fromHttpError(exception);
    if (!http) {
      return {
        statusCode: 500,
        error: 'Internal Server Error',
        message: 'Something went wrong on our side.',
        requestId: req.requestId,
      };
    }
    const status = http.getStatus();
    const response = http.getResponse();
    const detail = typeof response === 'object' ? (response as Record<string, unknown>) : {};
    const message =
      typeof response === 'string'
        ? response
        : typeof detail.message === 'string'
          ? detail.message
          : http.message;
    return {
      statusCode: status,
      error: STATUS_CODES[status] ?? 'Error',
      message,
      ...(detail.fields ? { fields: detail.fields as Record<string, string[]> } : {}),
      ...(typeof detail.retryAfter === 'number'
        ? { retryAfter: detail.retryAfter }
        : status === 503
          ? { retryAfter: 1 }
          : {}),
      requestId: req.requestId,
    };
  }
}

/** The driver's code and message behind a 503, when the outage came from a backend's error. */
function outageCause(exception: unknown): { cause?: string } {
  if (exception instanceof HttpException || !(exception instanceof Error)) return {};
  const code = (exception as { code?: unknown }).code;
  return { cause: typeof code === 'string' ? `${code}: ${exception.message}` : exception.message };
}

/**
 * Nest's Express adapter wraps an error from Express middleware (http-errors style, like
 * body-parser's, or ours thrown from its verify hook) in a plain HttpException that keeps only
 * the message, with the original as its cause. The original says more: its type, its fields.
 */
function unwrapMiddlewareError(exception: unknown): unknown {
  if (!(exception instanceof HttpException)) return exception;
  const cause = exception.cause;
  if (cause instanceof HttpException) return cause;
  if (cause instanceof Error && typeof (cause as { expose?: unknown }).expose === 'boolean')
    return cause;
  return exception;
}

/**
 * What each body-parser error is about, named as a field (every 4xx names the bad part: the body
 * as a whole, or the header that lied about it).
 */
const BODY_ERRORS: Record<string, { field: string; problem: string; message: string }> = {
  'entity.parse.failed': {
    field: 'body',
    problem: 'is not valid JSON',
    message: 'The request body is not valid JSON.',
  },
  'entity.too.large': {
    field: 'body',
    problem: 'is larger than the limit',
    message: 'The request body is too large.',
  },
  'parameters.too.many': {
    field: 'body',
    problem: 'has too many fields',
    message: 'The form has too many fields.',
  },
  'querystring.parse.rangeError': {
    field: 'body',
    problem: 'is nested too deeply',
    message: 'The form is nested too deeply.',
  },
  'request.size.invalid': {
    field: 'body',
    problem: 'does not match its Content-Length',
    message: 'The request body does not match its Content-Length.',
  },
  'encoding.unsupported': {
    field: 'content-encoding',
    problem: 'is not supported',
    message: 'The request body has an unsupported encoding.',
  },
  'charset.unsupported': {
    field: 'content-type',
    problem: 'names a charset that is not supported',
    message: 'The request body has an unsupported charset.',
  },
};
/** zlib's and brotli's own errors: the body is not compressed the way Content-Encoding says. */
const ZLIB_ERROR = {
  field: 'content-encoding',
  problem: 'does not match the body',
  message: 'The request body is not encoded as its Content-Encoding says.',
};

/** Errors from Express middleware (http-errors style: `status` plus `expose`) become HttpExceptions. */
function fromHttpError(exception: unknown): HttpException | undefined {
  if (!(exception instanceof Error)) return undefined;
  const e = exception as Error & {
    status?: unknown;
    statusCode?: unknown;
    expose?: unknown;
    type?: unknown;
    code?: unknown;
    errno?: unknown;
  };
  const status =
    typeof e.status === 'number'
      ? e.status
      : typeof e.statusCode === 'number'
        ? e.statusCode
        : undefined;
  if (!status || status < 400 || status >= 500) return undefined;
  const known =
    (typeof e.type === 'string' && BODY_ERRORS[e.type]) ||
    (typeof e.errno === 'number' && typeof e.code === 'string' && /^(Z_|ERR_)/.test(e.code)
      ? ZLIB_ERROR
      : undefined);
  if (known) {
    return new HttpException(
      { message: known.message, fields: { [known.field]: [known.problem] } },
      status,
    );
  }
  const message = e.expose ? e.message : STATUS_CODES[status];
  return new HttpException(message ?? 'Bad request', status);
}
