/**
 * `@strand/protocol`: the `strand.v1` wire protocol shared by `@strand/server` and
 * `@strand/client`: the generated messages and service descriptors (from `proto/strand/v1/`, by
 * `npm run proto`), conversions, and the StrandError <-> Connect error mapping.
 *
 * @packageDocumentation
 */
export {
  fromWireAppendResult,
  fromWireEvent,
  fromWireExpected,
  fromWireInfo,
  fromWireInput,
  fromWireProjectionStatus,
  parseJsonText,
  toWireAppendResult,
  toWireEvent,
  toWireExpected,
  toWireInfo,
  toWireInput,
  toWireProjectionStatus,
} from './convert.js';
export type { ProjectionParkedInfo, ProjectionStatusInfo } from './convert.js';
export { decodeEvent, encodeEvent, encodeEventDelimited, encodeEventsResponse, peekPosition } from './event-codec.js';
export {
  connectCodeOf,
  fromConnectError,
  fromErrorDetail,
  LimitExceededError,
  NoTenantsError,
  ProjectionNotFoundError,
  ServerUnavailableError,
  SubscriptionEndedError,
  toConnectError,
  toErrorDetail,
  UnauthenticatedError,
} from './errors.js';
export type { ServerLimit } from './errors.js';
export { StrandErrorDetailSchema } from './gen/strand/v1/errors_pb.js';
export type { StrandErrorDetail } from './gen/strand/v1/errors_pb.js';
export * as wire from './gen/strand/v1/store_pb.js';
export * as groupsWire from './gen/strand/v1/groups_pb.js';
export * as schemaWire from './gen/strand/v1/schemas_pb.js';
export * as projectionWire from './gen/strand/v1/projections_pb.js';
export * as adminWire from './gen/strand/v1/admin_pb.js';
export * as snapshotWire from './gen/strand/v1/snapshots_pb.js';
export * as infoWire from './gen/strand/v1/info_pb.js';
