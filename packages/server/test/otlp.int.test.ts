/**
 * `POST /v1/logs` with the OpenTelemetry JS SDK's own exporters (0.223, the last line for Node 20):
 * OTLP/HTTP protobuf and OTLP/HTTP JSON. Stored events are checked field by field; partial success
 * and garbage answers follow the OTLP spec.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { context, TraceFlags, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OtlpProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { ExportLogsServiceRequest, ExportLogsServiceResponse, RpcStatus } from '../src/ingest/otlp/otlp-schema.ts';
import type { TestServer } from './helpers.ts';
import { readAll, startTestServer } from './helpers.ts';

async function rejectedCount(srv: TestServer, reason: string): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const m = new RegExp(`^logsrv_rejected_total\\{transport="otlp",reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('OTLP/HTTP logs from the OpenTelemetry JS exporters', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(() => srv.dispose());

  for (const [name, Exporter] of [
    ['protobuf', OtlpProtoExporter],
    ['json', OtlpHttpJsonExporter],
  ] as const) {
    test(`${name}: body, service.name, severity, attributes, trace context and event name land in their fields`, async () => {
      const provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'service.name': `checkout-${name}`, 'deployment.environment': 'test' }),
        processors: [new SimpleLogRecordProcessor({ exporter: new Exporter({ url: `${srv.url}/v1/logs` }) })],
      });
      const logger = provider.getLogger('payments', '1.2.3');
      const traceId = name === 'json' ? '0af7651916cd43dd8448eb211c80319c' : '4bf92f3577b34da6a3ce929d0e0e4736';
      const ctx = trace.setSpanContext(context.active(), { traceId, spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED });
      const at = new Date('2026-12-05T10:00:00.123Z');
      logger.emit({
        body: 'payment declined',
        severityNumber: SeverityNumber.ERROR,
        severityText: 'ERROR',
        timestamp: at,
        attributes: { 'http.status_code': 402, retry: false, user: 'ann' },
        context: ctx,
      });
      logger.emit({
        body: { order: 'A-17', items: 3 },
        severityNumber: SeverityNumber.WARN2,
        attributes: { session: `otlp-explicit-${name}` },
        eventName: 'order.flagged',
      });
      await provider.forceFlush();
      await provider.shutdown();

      const [e] = await readAll(srv.url, traceId);
      assert.ok(e, 'stored in the trace id session (the default fallback)');
      assert.equal(e.key, 'log');
      assert.equal(e.value, 'payment declined');
      assert.equal(e.component, `checkout-${name}`);
      assert.equal(e.level, 'error');
      assert.equal(e.ts, '2026-12-05T10:00:00.123Z');
      assert.equal(e.user, 'ann');
      assert.equal(e.attrs['http.status_code'], 402);
      assert.equal(e.attrs.retry, false);
      assert.equal(e.attrs.trace_id, traceId);
      assert.equal(e.attrs.span_id, 'b7ad6b7169203331');
      assert.equal(e.attrs.severity_text, 'ERROR');
      assert.equal(e.attrs.scope, 'payments');
      assert.equal(e.attrs.resource['deployment.environment'], 'test');
      assert.equal(e.attrs.resource['service.name'], `checkout-${name}`);

      const [f] = await readAll(srv.url, `otlp-explicit-${name}`);
      assert.ok(f, 'stored in the session named by its attribute');
      assert.equal(f.key, 'order.flagged');
      assert.deepEqual(f.value, { order: 'A-17', items: 3 });
      assert.equal(f.level, 'warn');
      assert.equal(f.attrs.session, undefined);
    });
  }

  test('OTLP spec example payload (JSON, hex ids, int64 as strings) and the protobuf answer to a partial success', async () => {
    const doc = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'my.service' } }] },
          scopeLogs: [
            {
              scope: { name: 'my.library', version: '1.0.0', attributes: [{ key: 'my.scope.attribute', value: { stringValue: 'some scope attribute' } }] },
              logRecords: [
                {
                  timeUnixNano: '1544712660300000000',
                  observedTimeUnixNano: '1544712660300000000',
                  severityNumber: 10,
                  severityText: 'Information',
                  traceId: '5B8EFFF798038103D269B633813FC60C',
                  spanId: 'EEE19B7EC3C1B174',
                  body: { stringValue: 'Example log record' },
                  attributes: [
                    { key: 'string.attribute', value: { stringValue: 'some string' } },
                    { key: 'boolean.attribute', value: { boolValue: true } },
                    { key: 'int.attribute', value: { intValue: '10' } },
                    { key: 'double.attribute', value: { doubleValue: 637.704 } },
                    { key: 'array.attribute', value: { arrayValue: { values: [{ stringValue: 'many' }, { stringValue: 'values' }] } } },
                    { key: 'map.attribute', value: { kvlistValue: { values: [{ key: 'some.map.key', value: { stringValue: 'some value' } }] } } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${srv.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const [e] = await readAll(srv.url, '5b8efff798038103d269b633813fc60c');
    assert.deepEqual(
      [e.value, e.component, e.level, e.ts, e.attrs['int.attribute'], e.attrs['double.attribute'], e.attrs['array.attribute'], e.attrs['map.attribute']],
      ['Example log record', 'my.service', 'info', '2018-12-13T14:51:00.300Z', 10, 637.704, ['many', 'values'], { 'some.map.key': 'some value' }],
    );

    // One good record and one whose attributes are too many: 200 with partial_success, in protobuf.
    const many = Array.from({ length: 70 }, (_, i) => ({ key: `k${i}`, value: { intValue: i } }));
    const req = ExportLogsServiceRequest.fromObject({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'session', value: { stringValue: 'otlp-partial' } }] },
          scopeLogs: [{ logRecords: [{ body: { stringValue: 'kept' } }, { body: { stringValue: 'too wide' }, attributes: many }] }],
        },
      ],
    });
    const pb = await fetch(`${srv.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from(ExportLogsServiceRequest.encode(req).finish()),
    });
    assert.equal(pb.status, 200);
    assert.equal(pb.headers.get('content-type'), 'application/x-protobuf');
    const answer = ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(Buffer.from(await pb.arrayBuffer())), { longs: Number }) as {
      partialSuccess: { rejectedLogRecords: number; errorMessage: string };
    };
    assert.equal(answer.partialSuccess.rejectedLogRecords, 1);
    assert.match(answer.partialSuccess.errorMessage, /1 of 2 log records rejected; record 1: .*attrs.*too_long/);
    assert.deepEqual(
      (await readAll(srv.url, 'otlp-partial')).map((x) => x.value),
      ['kept'],
    );
  });

  test('garbage gets 400 with a google.rpc.Status, counted by reason; the receiver keeps working', async () => {
    const before = await rejectedCount(srv, 'invalid_protobuf');
    const bad = await fetch(`${srv.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 1]),
    });
    assert.equal(bad.status, 400);
    const status = RpcStatus.toObject(RpcStatus.decode(Buffer.from(await bad.arrayBuffer()))) as { code: number; message: string };
    assert.equal(status.code, 3);
    assert.match(status.message, /not an OTLP ExportLogsServiceRequest in protobuf/);
    assert.equal(await rejectedCount(srv, 'invalid_protobuf'), before + 1);

    const json = await fetch(`${srv.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs": 5}' });
    assert.equal(json.status, 400);
    assert.match(((await json.json()) as { message: string }).message, /resourceLogs must be an array/);
    assert.equal(await rejectedCount(srv, 'invalid_otlp'), 1);
    const notJson = await fetch(`${srv.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(notJson.status, 400);
    assert.equal(await rejectedCount(srv, 'invalid_json'), 1);
    const other = await fetch(`${srv.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(other.status, 415);

    const ok = await fetch(`${srv.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceLogs: [
          { scopeLogs: [{ logRecords: [{ body: { stringValue: 'after garbage' }, attributes: [{ key: 'session', value: { stringValue: 'otlp-after' } }] }] }] },
        ],
      }),
    });
    assert.equal(ok.status, 200);
    assert.equal((await readAll(srv.url, 'otlp-after'))[0]?.value, 'after garbage');
  });
});
