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
      // An outage of a backend: expected, and already explained in the body. No stack needed.
      this.logger.warn({ msg: body.message, requestId: req.requestId, path: req.path });
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
      const next = req.method === 'GET' ? `?next=${encodeURIComponent(req.originalUrl)}` : '';
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

  private toBody(exception: unknown, req: Request): ErrorBody {
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
        error: STATUS_CODES[500]!,
        message: 'Something went wrong on our side.',
        requestId: req.requestId,
      };
    }
    const status = http.getStatus();
    const response = http.getResponse();
    const detail =
      typeof response === 'object' && response !== null
        ? (response as Record<string, unknown>)
        : {};
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

/** Errors from Express middleware (http-errors style: `status` plus `expose`) become HttpExceptions. */
function fromHttpError(exception: unknown): HttpException | undefined {
  if (!(exception instanceof Error)) return undefined;
  const e = exception as Error & {
    status?: unknown;
    statusCode?: unknown;
    expose?: unknown;
    type?: unknown;
  };
  const status =
    typeof e.status === 'number'
      ? e.status
      : typeof e.statusCode === 'number'
        ? e.statusCode
        : undefined;
  if (!status || status < 400 || status >= 500) return undefined;
  const messages: Record<string, string> = {
    'entity.parse.failed': 'The request body is not valid JSON.',
    'entity.too.large': 'The request body is too large.',
    'encoding.unsupported': 'The request body has an unsupported encoding.',
    'charset.unsupported': 'The request body has an unsupported charset.',
  };
  const message =
    (typeof e.type === 'string' && messages[e.type]) ||
    (e.expose ? e.message : STATUS_CODES[status]);
  return new HttpException(message ?? 'Bad request', status);
}
