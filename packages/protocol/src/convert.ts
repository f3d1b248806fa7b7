/**
 * Conversions between Strand's types and the wire messages of `strand.v1`, shared by the server
 * and the client so both sides agree on every field. Payloads travel as JSON text.
 *
 * @module
 */
import { type AppendResult, type EventInput, type ExpectedVersion, InvalidEventError, type JsonTextEvent, type RecordedEvent, type StreamInfo } from '@strand/core';
import type {
  AppendResult as WireAppendResult,
  EventInput as WireEventInput,
  RecordedEvent as WireRecordedEvent,
  StreamInfo as WireStreamInfo,
} from './gen/strand/v1/store_pb.js';
import type { ProjectionStatus as WireProjectionStatus } from './gen/strand/v1/projections_pb.js';

/** JSON text of a value, `''` for `undefined`; throws `STRAND_INVALID_EVENT` for what JSON cannot carry. */
function jsonText(value: unknown, what: string): string {
  if (value === undefined) return '';
  let s: string | undefined;
  try {
    s = JSON.stringify(value);
  } catch (error) {
    throw new InvalidEventError(`${what} is not JSON-encodable (${(error as Error).message})`);
  }
  if (s === undefined) throw new InvalidEventError(`${what} is not JSON-encodable`);
  return s;
}

/** Parses JSON text sent by the other side; `''` is `undefined`. */
export function parseJsonText(text: string, what: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidEventError(`${what} is not valid JSON text`);
  }
}

/** An {@link EventInput} as a wire message (client side). */
export function toWireInput(e: EventInput): WireEventInput {
  if (e === null || typeof e !== 'object') throw new InvalidEventError('an event is an object { type, data, id?, metadata? }');
  // A message literal (every field set), as `create(EventInputSchema, ...)` would build it.
  return {
    $typeName: 'strand.v1.EventInput',
    type: typeof e.type === 'string' ? e.type : '',
    data: jsonText(e.data, 'data'),
    id: e.id ?? '',
    metadata: jsonText(e.metadata, 'metadata'),
    schemaVersion: e.schemaVersion ?? 0,
  };
}

/** A wire event input as an {@link EventInput} (server side). */
export function fromWireInput(e: WireEventInput): EventInput {
  const out: EventInput = { type: e.type, data: parseJsonText(e.data, 'data') };
  if (e.id !== '') out.id = e.id;
  if (e.metadata !== '') out.metadata = parseJsonText(e.metadata, 'metadata') as Record<string, unknown>;
  if (e.schemaVersion !== 0) out.schemaVersion = e.schemaVersion;
  return out;
}

/** A {@link RecordedEvent} (or a {@link JsonTextEvent}, its JSON text as it is) as a wire message (server side). */
export function toWireEvent(e: RecordedEvent | JsonTextEvent): WireRecordedEvent {
  return {
    $typeName: 'strand.v1.RecordedEvent',
    stream: e.stream,
    version: BigInt(e.version),
    position: BigInt(e.position),
    type: e.type,
    id: e.id,
    timestamp: BigInt(e.timestamp),
    data: 'dataJson' in e ? e.dataJson : e.data === undefined ? '' : JSON.stringify(e.data),
    metadata: e.metadata === undefined ? '' : JSON.stringify(e.metadata),
    schemaVersion: e.schemaVersion ?? 0,
  };
}

/** A wire event as a {@link RecordedEvent} (client side). */
export function fromWireEvent(e: WireRecordedEvent): RecordedEvent {
  return {
    stream: e.stream,
    version: Number(e.version),
    position: Number(e.position),
    type: e.type,
    id: e.id,
    timestamp: Number(e.timestamp),
    data: parseJsonText(e.data, 'data'),
    metadata: e.metadata === '' ? undefined : (parseJsonText(e.metadata, 'metadata') as Record<string, unknown>),
    schemaVersion: e.schemaVersion === 0 ? undefined : e.schemaVersion,
  };
}

/** An expected version as its wire text: `''` for absent. */
export function toWireExpected(v: ExpectedVersion | undefined): string {
  return v === undefined ? '' : String(v);
}

/**
 * Wire text back to an expected version. Anything that is not one of the names or a decimal
 * number is passed on as it is, so the log rejects it with its own `STRAND_INVALID_ARGUMENT`.
 */
export function fromWireExpected(s: string): ExpectedVersion | undefined {
  if (s === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  return s as ExpectedVersion;
}

/** An append result as a wire message (server side). */
export function toWireAppendResult(r: AppendResult): WireAppendResult {
  return {
    $typeName: 'strand.v1.AppendResult',
    stream: r.stream,
    version: BigInt(r.version),
    firstPosition: BigInt(r.firstPosition),
    position: BigInt(r.position),
    events: r.events.map(toWireEvent),
    idempotent: r.idempotent,
  };
}

/** A wire append result as an {@link AppendResult} (client side). */
export function fromWireAppendResult(r: WireAppendResult | undefined): AppendResult {
  if (r === undefined) throw new InvalidEventError('the server sent an append response without a result');
  return { stream: r.stream, version: Number(r.version), firstPosition: Number(r.firstPosition), position: Number(r.position), events: r.events.map(fromWireEvent), idempotent: r.idempotent };
}

/** Stream metadata as a wire message (server side). */
export function toWireInfo(i: StreamInfo): WireStreamInfo {
  return {
    $typeName: 'strand.v1.StreamInfo',
    name: i.name,
    version: BigInt(i.version),
    lastPosition: BigInt(i.lastPosition),
    created: BigInt(i.created),
    truncatedBefore: BigInt(i.truncatedBefore),
    deleted: i.deleted,
  };
}

/** Wire stream metadata as {@link StreamInfo} (client side). */
export function fromWireInfo(i: WireStreamInfo): StreamInfo {
  return { name: i.name, version: Number(i.version), lastPosition: Number(i.lastPosition), created: Number(i.created), truncatedBefore: Number(i.truncatedBefore), deleted: i.deleted };
}

/** A parked stream of a projection, as its status carries it over the wire. */
export interface ProjectionParkedInfo {
  /** The stream. */
  readonly stream: string;
  /** Version of the first event not applied. */
  readonly version: number;
  /** Its global position. */
  readonly position: number;
  /** The handler's last error message. */
  readonly error: string;
  /** Failed attempts. */
  readonly attempts: number;
}

/** A projection's status as it travels: what `ProjectionRunner.status()` of `@strand/projections` reports. */
export interface ProjectionStatusInfo {
  /** Projection name. */
  readonly name: string;
  /** Generation serving reads (a rebuild creates the next one). */
  readonly generation: number;
  /** Every event up to here is applied and committed. */
  readonly position: number;
  /** The log's head. */
  readonly head: number;
  /** Events behind the head. */
  readonly lagEvents: number;
  /** Age in ms of the oldest event not yet applied (0 when caught up). */
  readonly lagMs: number;
  /** Parked streams. */
  readonly parked: readonly ProjectionParkedInfo[];
  /** A rebuild in progress: its generation and position. */
  readonly rebuilding: { generation: number; position: number } | undefined;
}

/** A projection's status as a wire message (server side); negative lags travel as 0, `lagMs` rounded. */
export function toWireProjectionStatus(s: ProjectionStatusInfo): WireProjectionStatus {
  return {
    $typeName: 'strand.v1.ProjectionStatus',
    name: s.name,
    generation: s.generation,
    position: BigInt(s.position),
    head: BigInt(s.head),
    lagEvents: BigInt(Math.max(0, s.lagEvents)),
    lagMs: BigInt(Math.max(0, Math.round(s.lagMs))),
    parked: s.parked.map((p) => ({ $typeName: 'strand.v1.ProjectionParkedStream', stream: p.stream, version: BigInt(p.version), position: BigInt(p.position), error: p.error, attempts: p.attempts })),
    rebuildingGeneration: s.rebuilding?.generation ?? 0,
    rebuildingPosition: BigInt(s.rebuilding?.position ?? 0),
  };
}

/** A wire projection status as {@link ProjectionStatusInfo} (client side); generation 0 means no rebuild. */
export function fromWireProjectionStatus(s: WireProjectionStatus | undefined): ProjectionStatusInfo {
  if (s === undefined) throw new Error('the server sent no projection status');
  return {
    name: s.name,
    generation: s.generation,
    position: Number(s.position),
    head: Number(s.head),
    lagEvents: Number(s.lagEvents),
    lagMs: Number(s.lagMs),
    parked: s.parked.map((p) => ({ stream: p.stream, version: Number(p.version), position: Number(p.position), error: p.error, attempts: p.attempts })),
    rebuilding: s.rebuildingGeneration === 0 ? undefined : { generation: s.rebuildingGeneration, position: Number(s.rebuildingPosition) },
  };
}
