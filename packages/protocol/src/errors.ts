/**
 * Errors of the network layer, and the mapping of every `StrandError` to a Connect/gRPC code and
 * back. The server sends the stable `code`, `kind` and `details` in a `strand.v1.StrandErrorDetail`;
 * the client rethrows an error of the same class with the same code and message, so
 * `isStrandError(err, 'STRAND_WRONG_EXPECTED_VERSION')` works remotely as it does in process.
 * Design: docs/design/0013-server.md, "Error mapping".
 *
 * @module
 */
import { Code, ConnectError } from '@connectrpc/connect';
import {
  CorruptionError,
  DuplicateEventIdError,
  type ErrorKind,
  EventTooLargeError,
  IncompatibleSchemaError,
  InvalidArgumentError,
  InvalidEventError,
  InvalidPatternError,
  InvalidStreamNameError,
  KeyDestroyedError,
  LogClosedError,
  LogLockedError,
  QuotaExceededError,
  SchemaConflictError,
  SchemaValidationError,
  StorageUnavailableError,
  StrandError,
  StreamDeletedError,
  StreamTruncatedError,
  TimeoutError,
  UnknownEventTypeError,
  WrongExpectedVersionError,
} from '@strand/core';
import { AccessDeniedError, TenantExistsError, TenantNotFoundError, TenantSuspendedError } from '@strand/core/tenancy';
import { StrandErrorDetailSchema } from './gen/strand/v1/errors_pb.js';

/**
 * The call carried no API key, or one that is malformed, unknown or revoked. Code
 * `STRAND_UNAUTHENTICATED` (gRPC `UNAUTHENTICATED`). Always the same message: it says nothing about
 * which keys or tenants exist.
 */
export class UnauthenticatedError extends StrandError {
  constructor() {
    super('STRAND_UNAUTHENTICATED', 'denied', 'Not authenticated: send "Authorization: Bearer <api key>" with a valid key.');
  }
}

/** Which server limit a {@link LimitExceededError} names. */
export type ServerLimit = 'requestBytes' | 'eventsPerAppend' | 'streamsPerConnection' | 'connectionsPerTenant' | 'subscriptionsPerServer';

/**
 * A server limit was hit; nothing of the call was done. Code `STRAND_LIMIT_EXCEEDED`;
 * `details.limit` names the limit and `details.max` its value.
 */
export class LimitExceededError extends StrandError {
  constructor(limit: ServerLimit, max: number) {
    super('STRAND_LIMIT_EXCEEDED', 'limited', `Server limit ${limit} (${max}) exceeded; nothing was done. Send smaller or fewer requests, or ask the operator to raise the limit.`, {
      details: { limit, max },
    });
  }
}

/**
 * The server could not be reached, the connection broke, or the server is shutting down. Code
 * `STRAND_SERVER_UNAVAILABLE`. An append that failed this way may or may not have committed:
 * retry it with the same event ids (the retry is idempotent).
 */
export class ServerUnavailableError extends StrandError {
  constructor(reason: string, cause?: unknown) {
    super('STRAND_SERVER_UNAVAILABLE', 'unavailable', `The Strand server is unavailable (${reason}). Retry with backoff; re-send appends with the same event ids.`, {
      cause,
      details: { reason },
    });
  }
}

/**
 * The server ended a subscription: its client did not read (or grant credits) in time, or the
 * server is shutting down. Code `STRAND_SUBSCRIPTION_ENDED`; `details.resumeFrom` is the position
 * to subscribe from again (no gap, no duplicate) and `details.reason` says why
 * (`slow-consumer`, `shutdown`).
 */
export class SubscriptionEndedError extends StrandError {
  constructor(reason: 'slow-consumer' | 'shutdown', resumeFrom: number) {
    super('STRAND_SUBSCRIPTION_ENDED', 'unavailable', `The server ended the subscription (${reason}); subscribe again from position ${resumeFrom} to continue without a gap.`, {
      details: { reason, resumeFrom },
    });
  }
}

/**
 * Tenant administration on a server that serves one log (no tenant registry). Code
 * `STRAND_NO_TENANTS` (gRPC `FAILED_PRECONDITION`).
 */
export class NoTenantsError extends StrandError {
  constructor() {
    super('STRAND_NO_TENANTS', 'invalid', 'This server serves one log, not a tenant registry: start it with { tenants } (strand serve --tenants) to administer tenants.');
  }
}

/**
 * The server hosts no projection of that name (for the caller's tenant). Code
 * `STRAND_PROJECTION_NOT_FOUND` (gRPC `NOT_FOUND`); `details.name` is the name asked for.
 */
export class ProjectionNotFoundError extends StrandError {
  constructor(name: string) {
    super('STRAND_PROJECTION_NOT_FOUND', 'invalid', `This server hosts no projection named ${JSON.stringify(name)}; ListProjections shows the ones it hosts.`, { details: { name } });
  }
}

// Classes the client rebuilds by code. Anything else comes back as a plain StrandError with the
// same code, kind, message and details.
const classes: Record<string, new (...args: never[]) => StrandError> = {
  STRAND_INVALID_STREAM_NAME: InvalidStreamNameError,
  STRAND_INVALID_PATTERN: InvalidPatternError,
  STRAND_INVALID_EVENT: InvalidEventError,
  STRAND_EVENT_TOO_LARGE: EventTooLargeError,
  STRAND_INVALID_ARGUMENT: InvalidArgumentError,
  STRAND_WRONG_EXPECTED_VERSION: WrongExpectedVersionError,
  STRAND_DUPLICATE_EVENT_ID: DuplicateEventIdError,
  STRAND_STREAM_DELETED: StreamDeletedError,
  STRAND_STREAM_TRUNCATED: StreamTruncatedError,
  STRAND_LOG_CLOSED: LogClosedError,
  STRAND_LOG_LOCKED: LogLockedError,
  STRAND_STORAGE_UNAVAILABLE: StorageUnavailableError,
  STRAND_CORRUPTION: CorruptionError,
  STRAND_TIMEOUT: TimeoutError,
  STRAND_ACCESS_DENIED: AccessDeniedError,
  STRAND_QUOTA_EXCEEDED: QuotaExceededError,
  STRAND_TENANT_EXISTS: TenantExistsError,
  STRAND_TENANT_NOT_FOUND: TenantNotFoundError,
  STRAND_TENANT_SUSPENDED: TenantSuspendedError,
  STRAND_SCHEMA_VALIDATION: SchemaValidationError,
  STRAND_UNKNOWN_EVENT_TYPE: UnknownEventTypeError,
  STRAND_INCOMPATIBLE_SCHEMA: IncompatibleSchemaError,
  STRAND_SCHEMA_CONFLICT: SchemaConflictError,
  STRAND_KEY_DESTROYED: KeyDestroyedError,
  STRAND_UNAUTHENTICATED: UnauthenticatedError,
  STRAND_LIMIT_EXCEEDED: LimitExceededError,
  STRAND_SERVER_UNAVAILABLE: ServerUnavailableError,
  STRAND_SUBSCRIPTION_ENDED: SubscriptionEndedError,
  STRAND_NO_TENANTS: NoTenantsError,
  STRAND_PROJECTION_NOT_FOUND: ProjectionNotFoundError,
};

// Fields some classes carry beside `details` (copied back from the details on the client).
const fields: Record<string, readonly string[]> = {
  STRAND_WRONG_EXPECTED_VERSION: ['stream', 'expected', 'actual'],
  STRAND_QUOTA_EXCEEDED: ['limit'],
};

const byCode: Record<string, Code> = {
  STRAND_UNAUTHENTICATED: Code.Unauthenticated,
  STRAND_ACCESS_DENIED: Code.PermissionDenied,
  STRAND_TENANT_SUSPENDED: Code.PermissionDenied,
  STRAND_WRONG_EXPECTED_VERSION: Code.Aborted,
  STRAND_DUPLICATE_EVENT_ID: Code.AlreadyExists,
  STRAND_TENANT_EXISTS: Code.AlreadyExists,
  STRAND_SCHEMA_CONFLICT: Code.AlreadyExists,
  STRAND_STREAM_DELETED: Code.FailedPrecondition,
  STRAND_STREAM_TRUNCATED: Code.FailedPrecondition,
  STRAND_TENANT_NOT_FOUND: Code.NotFound,
  STRAND_TIMEOUT: Code.DeadlineExceeded,
  STRAND_CORRUPTION: Code.DataLoss,
  STRAND_KEY_DESTROYED: Code.FailedPrecondition,
  STRAND_NO_TENANTS: Code.FailedPrecondition,
  STRAND_PROJECTION_NOT_FOUND: Code.NotFound,
};

const byKind: Record<ErrorKind, Code> = {
  conflict: Code.Aborted,
  invalid: Code.InvalidArgument,
  denied: Code.PermissionDenied,
  limited: Code.ResourceExhausted,
  closed: Code.Unavailable,
  unavailable: Code.Unavailable,
  data: Code.DataLoss,
  internal: Code.Internal,
};

/** The Connect/gRPC code a `StrandError` code is sent with. */
export function connectCodeOf(code: string, kind: ErrorKind): Code {
  return byCode[code] ?? byKind[kind] ?? Code.Internal;
}

/**
 * Server side: any error thrown by a handler as a `ConnectError` carrying a StrandErrorDetail.
 * An error that is not a `StrandError` is a bug: it becomes `INTERNAL` with a fixed message, so no
 * internal detail (paths, stack, stored values) leaves the server.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  const { message, ...detail } = toErrorDetail(error);
  return new ConnectError(message, connectCodeOf(detail.code, detail.kind as ErrorKind), undefined, [{ desc: StrandErrorDetailSchema, value: detail }]);
}

/**
 * Server side: any error as the fields of a StrandErrorDetail, message included (for errors that
 * travel inside a response, e.g. one append's outcome in a batch). Not a `StrandError`: a bug,
 * `STRAND_INTERNAL` with a fixed message.
 */
export function toErrorDetail(error: unknown): { code: string; kind: string; details: string; message: string } {
  if (!(error instanceof StrandError)) return { code: 'STRAND_INTERNAL', kind: 'internal', details: '{}', message: 'Internal server error.' };
  let details = '{}';
  try {
    details = JSON.stringify(error.details) ?? '{}';
  } catch {
    // Details that do not serialise are dropped; code and message still travel.
  }
  return { code: error.code, kind: error.kind, details, message: error.message };
}

const KINDS: readonly string[] = ['conflict', 'invalid', 'denied', 'limited', 'closed', 'unavailable', 'data', 'internal'];

/**
 * Client side: the `StrandError` a failed call stands for. With a StrandErrorDetail, the same class
 * and code the server threw; without one (the connection failed, a proxy answered), a fitting
 * network error: `STRAND_SERVER_UNAVAILABLE`, `STRAND_UNAUTHENTICATED`, `STRAND_LIMIT_EXCEEDED`
 * or `STRAND_TIMEOUT`.
 */
export function fromConnectError(error: unknown): StrandError {
  if (error instanceof StrandError) return error;
  const ce = ConnectError.from(error);
  const detail = ce.findDetails(StrandErrorDetailSchema)[0];
  if (detail === undefined || detail.code === '') {
    switch (ce.code) {
      case Code.Unauthenticated:
        return new UnauthenticatedError();
      case Code.PermissionDenied:
        return new AccessDeniedError();
      case Code.ResourceExhausted:
        return new LimitExceededError('requestBytes', 0);
      case Code.DeadlineExceeded:
        return new TimeoutError('the server to answer', 0);
      case Code.InvalidArgument:
        return new InvalidArgumentError(ce.rawMessage);
      default:
        return new ServerUnavailableError(ce.rawMessage || Code[ce.code] || 'connection failed', error);
    }
  }
  return fromErrorDetail(detail, ce.rawMessage);
}

/**
 * Client side: the `StrandError` a StrandErrorDetail stands for, of the class the server threw
 * (`instanceof` holds), with its code, kind, message (`message`, else the detail's own) and details.
 */
export function fromErrorDetail(detail: { code: string; kind: string; details: string; message?: string }, message = detail.message ?? ''): StrandError {
  let details: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(detail.details || '{}');
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) details = parsed as Record<string, unknown>;
  } catch {
    // A detail that does not parse leaves details empty.
  }
  const kind = (KINDS.includes(detail.kind) ? detail.kind : 'internal') as ErrorKind;
  const cls = classes[detail.code] ?? StrandError;
  // The server's message and details, in an instance of the class the server threw (its
  // constructor's own arguments are not on the wire, so StrandError's constructor builds it).
  const e = Reflect.construct(StrandError, [detail.code, kind, message, { details }], cls) as StrandError;
  for (const f of fields[detail.code] ?? []) if (f in details) (e as unknown as Record<string, unknown>)[f] = details[f];
  return e;
}
