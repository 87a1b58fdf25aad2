/**
 * The protobuf messages of OTLP/HTTP logs this receiver reads and answers, as a protobufjs
 * descriptor: `ExportLogsServiceRequest` and `ExportLogsServiceResponse`
 * (opentelemetry/proto/collector/logs/v1/logs_service.proto), the logs, common and resource
 * messages they use (logs/v1/logs.proto, common/v1/common.proto, resource/v1/resource.proto), and
 * `google.rpc.Status` for error answers. Field numbers and types are the spec's; only the wire
 * matters, so package names are left out. Field names are the lowerCamelCase of OTLP/JSON, so a
 * decoded protobuf message and a parsed JSON body have the same shape (to-events.ts).
 */
import protobuf from 'protobufjs/light.js';

const kv = { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } };

const root = protobuf.Root.fromJSON({
  nested: {
    ExportLogsServiceRequest: { fields: { resourceLogs: { rule: 'repeated', type: 'ResourceLogs', id: 1 } } },
    ExportLogsServiceResponse: { fields: { partialSuccess: { type: 'ExportLogsPartialSuccess', id: 1 } } },
    ExportLogsPartialSuccess: { fields: { rejectedLogRecords: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } } },
    ResourceLogs: {
      fields: { resource: { type: 'Resource', id: 1 }, scopeLogs: { rule: 'repeated', type: 'ScopeLogs', id: 2 }, schemaUrl: { type: 'string', id: 3 } },
    },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 }, droppedAttributesCount: { type: 'uint32', id: 2 } } },
    ScopeLogs: {
      fields: {
        scope: { type: 'InstrumentationScope', id: 1 },
        logRecords: { rule: 'repeated', type: 'LogRecord', id: 2 },
        schemaUrl: { type: 'string', id: 3 },
      },
    },
    InstrumentationScope: {
      fields: {
        name: { type: 'string', id: 1 },
        version: { type: 'string', id: 2 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
        droppedAttributesCount: { type: 'uint32', id: 4 },
      },
    },
    LogRecord: {
      fields: {
        timeUnixNano: { type: 'fixed64', id: 1 },
        observedTimeUnixNano: { type: 'fixed64', id: 11 },
        severityNumber: { type: 'int32', id: 2 },
        severityText: { type: 'string', id: 3 },
        body: { type: 'AnyValue', id: 5 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 6 },
        droppedAttributesCount: { type: 'uint32', id: 7 },
        flags: { type: 'fixed32', id: 8 },
        traceId: { type: 'bytes', id: 9 },
        spanId: { type: 'bytes', id: 10 },
        eventName: { type: 'string', id: 12 },
      },
    },
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
        arrayValue: { type: 'ArrayValue', id: 5 },
        kvlistValue: { type: 'KeyValueList', id: 6 },
        bytesValue: { type: 'bytes', id: 7 },
      },
    },
    ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
    KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    KeyValue: { fields: kv },
    Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } },
  },
});

export const ExportLogsServiceRequest = root.lookupType('ExportLogsServiceRequest');
export const ExportLogsServiceResponse = root.lookupType('ExportLogsServiceResponse');
export const RpcStatus = root.lookupType('Status');

/** A protobuf request body as a plain object in OTLP/JSON's shape (64-bit integers as decimal strings, bytes as Buffers). */
export function decodeRequest(body: Uint8Array): unknown {
  return ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(body), { longs: String, defaults: false });
}
