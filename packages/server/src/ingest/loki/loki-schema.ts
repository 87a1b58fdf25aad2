/**
 * Loki's push request in protobuf (grafana/loki pkg/push/push.proto: `PushRequest`,
 * `StreamAdapter`, `EntryAdapter`, `LabelPairAdapter`, and google.protobuf.Timestamp), as a
 * protobufjs descriptor. The body on the wire is this message compressed with snappy's block
 * format (not the framed one), as Promtail, Alloy and Grafana's clients send it.
 */
import protobuf from 'protobufjs/light.js';
import snappy from 'snappyjs';

const root = protobuf.Root.fromJSON({
  nested: {
    PushRequest: { fields: { streams: { rule: 'repeated', type: 'StreamAdapter', id: 1 } } },
    StreamAdapter: {
      fields: { labels: { type: 'string', id: 1 }, entries: { rule: 'repeated', type: 'EntryAdapter', id: 2 }, hash: { type: 'uint64', id: 3 } },
    },
    EntryAdapter: {
      fields: {
        timestamp: { type: 'Timestamp', id: 1 },
        line: { type: 'string', id: 2 },
        structuredMetadata: { rule: 'repeated', type: 'LabelPairAdapter', id: 3 },
      },
    },
    LabelPairAdapter: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
    Timestamp: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
  },
});

export const PushRequest = root.lookupType('PushRequest');

export interface PushedEntry {
  /** Epoch ms, or undefined when the entry has no time. */
  ts: number | undefined;
  line: string;
  metadata: Record<string, string>;
}

export interface PushedStream {
  /** Labels as received: the protobuf text, or the JSON object. */
  labels: string | Record<string, unknown>;
  entries: PushedEntry[];
}

/**
 * Snappy-decompresses and decodes a protobuf push; the decompressed size is checked against
 * `maxBytes` before anything is allocated. Throws with the decoder's words on garbage.
 */
export function decodePush(body: Buffer, maxBytes: number): PushedStream[] {
  const raw = snappy.uncompress(body, maxBytes) as Buffer;
  const msg = PushRequest.toObject(PushRequest.decode(raw), { longs: String, defaults: false }) as {
    streams?: {
      labels?: string;
      entries?: { timestamp?: { seconds?: string; nanos?: number }; line?: string; structuredMetadata?: { name?: string; value?: string }[] }[];
    }[];
  };
  return (msg.streams ?? []).map((s) => ({
    labels: s.labels ?? '',
    entries: (s.entries ?? []).map((e) => {
      const metadata: Record<string, string> = Object.create(null);
      for (const p of e.structuredMetadata ?? []) if (p.name) metadata[p.name] = p.value ?? '';
      const sec = e.timestamp?.seconds === undefined ? undefined : Number(e.timestamp.seconds);
      const ts = sec === undefined && e.timestamp?.nanos === undefined ? undefined : (sec ?? 0) * 1000 + Math.floor((e.timestamp?.nanos ?? 0) / 1e6);
      return { ts, line: e.line ?? '', metadata };
    }),
  }));
}
