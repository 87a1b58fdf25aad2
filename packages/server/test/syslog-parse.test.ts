import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseSyslog, type SyslogMessage } from '../src/ingest/syslog/parse-syslog.ts';

function ok(text: string, now?: number): SyslogMessage {
  const m = parseSyslog(text, now);
  if ('error' in m) assert.fail(`refused ${JSON.stringify(text)}: ${m.error}`);
  return m;
}

describe('syslog parser: RFC 5424 §6.5 examples', () => {
  test('example 1: BOM before MSG, nil PROCID and SD', () => {
    const m = ok("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF'su root' failed for lonvick on /dev/pts/8");
    assert.deepEqual(m, {
      format: 'rfc5424',
      facility: 4,
      severity: 2,
      ts: Date.UTC(2003, 9, 11, 22, 14, 15, 3),
      hostname: 'mymachine.example.com',
      app: 'su',
      procid: null,
      msgid: 'ID47',
      sd: null,
      msg: "'su root' failed for lonvick on /dev/pts/8",
    });
  });
  test('example 2: microseconds and a zone offset', () => {
    const m = ok("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.");
    assert.equal(m.ts, Date.UTC(2003, 7, 24, 12, 14, 15, 0));
    assert.equal(m.facility, 20);
    assert.equal(m.severity, 5);
    assert.equal(m.hostname, '192.0.2.1');
    assert.equal(m.app, 'myproc');
    assert.equal(m.procid, '8710');
    assert.equal(m.msgid, null);
    assert.equal(m.msg, "%% It's time to make the do-nuts.");
  });
  test('examples 3 and 4: structured data, one and two elements, with and without MSG', () => {
    const m3 = ok(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] \uFEFFAn application event log entry...',
    );
    assert.deepEqual(JSON.parse(JSON.stringify(m3.sd)), { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' } });
    assert.equal(m3.msg, 'An application event log entry...');
    const m4 = ok(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
    );
    assert.deepEqual(JSON.parse(JSON.stringify(m4.sd)), {
      'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' },
      'examplePriority@32473': { class: 'high' },
    });
    assert.equal(m4.msg, '');
  });
  test('escaped quote, backslash and bracket in a param value; a trailing newline is not part of MSG', () => {
    const m = ok('<14>1 - h a - - [x@1 v="a\\"b\\\\c\\]d"] text\n');
    assert.deepEqual(JSON.parse(JSON.stringify(m.sd)), { 'x@1': { v: 'a"b\\c]d' } });
    assert.equal(m.msg, 'text');
    assert.equal(m.ts, null);
  });
});

describe('syslog parser: RFC 3164 as senders write it', () => {
  const now = new Date(2026, 11, 5, 12, 0, 0).getTime();
  test('RFC 3164 §5.4 example: hostname and TAG with colon, local time of the year closest to now', () => {
    const m = ok("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", now);
    assert.equal(m.format, 'rfc3164');
    assert.equal(m.ts, new Date(2026, 9, 11, 22, 14, 15).getTime());
    assert.equal(m.hostname, 'mymachine');
    assert.equal(m.app, 'su');
    assert.equal(m.msg, "'su root' failed for lonvick on /dev/pts/8");
  });
  test('a December timestamp seen in January belongs to the year before', () => {
    const m = ok('<13>Dec 31 23:59:59 h app: x', new Date(2027, 0, 1, 0, 0, 5).getTime());
    assert.equal(m.ts, new Date(2026, 11, 31, 23, 59, 59).getTime());
  });
  test('rsyslog RSYSLOG_ForwardFormat: RFC 3339 time, TAG without its colon', () => {
    const m = ok('<30>2026-12-05T04:41:08.123456+00:00 web01 myapp hello world');
    assert.equal(m.ts, Date.UTC(2026, 11, 5, 4, 41, 8, 123));
    assert.deepEqual([m.hostname, m.app, m.procid, m.msg], ['web01', 'myapp', null, 'hello world']);
  });
  test('TAG with a PID; a space-padded day', () => {
    const m = ok('<86>Feb  5 17:32:18 host sshd[4242]: Accepted publickey', now);
    assert.deepEqual([m.hostname, m.app, m.procid, m.msg, m.severity, m.facility], ['host', 'sshd', '4242', 'Accepted publickey', 6, 10]);
  });
  test('no HOSTNAME (a local socket): a token ending in a colon is the TAG', () => {
    const m = ok('<13>Feb  5 17:32:18 myapp: message here', now);
    assert.deepEqual([m.hostname, m.app, m.msg], [null, 'myapp', 'message here']);
  });
  test('no timestamp: the rest is the message (RFC 3164 §4.3.3)', () => {
    const m = ok('<13>just a message');
    assert.deepEqual([m.ts, m.hostname, m.app, m.msg], [null, null, null, 'just a message']);
  });
});

describe('syslog parser refuses what is not syslog', () => {
  for (const [text, why] of [
    ['', /no <PRI>/],
    ['hello', /no <PRI>/],
    ['<>x', /malformed <PRI>/],
    ['<192>x', /over 191/],
    ['<013>x', /malformed <PRI>/],
    ['<1a>x', /malformed <PRI>/],
    ['<13>1 2003-10-11T22:14:15Z host', /cut short/],
    ['<13>1 yesterday h a p m - x', /not an RFC 3339 time/],
    ['<13>1 - h a p m [x@1 a="b"', /not closed|no closing quote/],
    ['<13>1 - h a p m [x@1 a=b] m', /name="value"/],
    ['<13>1 - h a p m x', /STRUCTURED-DATA must be/],
  ] as const) {
    test(`${JSON.stringify(text)} → ${why}`, () => {
      const m = parseSyslog(text);
      assert.ok('error' in m, `accepted ${JSON.stringify(text)}`);
      assert.match(m.error, why);
    });
  }
});

describe('syslog parser, fuzzed', () => {
  test('never throws, on any text or any text after a valid PRI and version', () => {
    const prefix = fc.constantFrom('', '<13>', '<165>1 ', '<0>1 - - - - - ', '<191>Dec  1 00:00:00 ', '<30>2026-12-05T04:41:08Z h ');
    fc.assert(
      fc.property(prefix, fc.string({ unit: 'binary', maxLength: 300 }), (p, s) => {
        const m = parseSyslog(p + s);
        if (!('error' in m)) {
          assert.ok(m.facility >= 0 && m.facility <= 23 && m.severity >= 0 && m.severity <= 7);
          assert.equal(typeof m.msg, 'string');
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('an RFC 5424 message built from any field values parses back to them', () => {
    const name = fc.string({
      unit: fc
        .integer({ min: 33, max: 126 })
        .filter((c) => c !== 61 && c !== 93 && c !== 34)
        .map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 32,
    });
    const headerField = fc
      .string({ unit: fc.integer({ min: 33, max: 126 }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 48 })
      .filter((s) => s !== '-');
    const value = fc.string({ maxLength: 40 });
    const sd = fc.dictionary(name, fc.dictionary(name, value, { maxKeys: 4 }), { maxKeys: 3 });
    const esc = (v: string) => v.replace(/[\\"\]]/g, (c) => `\\${c}`);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 191 }),
        fc.option(fc.integer({ min: 0, max: 4102444800000 })),
        headerField,
        headerField,
        fc.option(headerField),
        fc.option(headerField.filter((s) => s.length <= 32)),
        sd,
        fc.string({ maxLength: 80 }).filter((s) => !/[\r\n\0]$/.test(s) && !s.startsWith('\uFEFF')),
        (pri, ts, host, app, procid, msgid, elements, msg) => {
          const sdText =
            Object.keys(elements).length === 0
              ? '-'
              : Object.entries(elements)
                  .map(
                    ([id, ps]) =>
                      `[${id}${Object.entries(ps)
                        .map(([k, v]) => ` ${k}="${esc(v)}"`)
                        .join('')}]`,
                  )
                  .join('');
          const text = `<${pri}>1 ${ts === null ? '-' : new Date(ts).toISOString()} ${host} ${app} ${procid ?? '-'} ${msgid ?? '-'} ${sdText}${msg ? ` ${msg}` : ''}`;
          const m = ok(text);
          assert.deepEqual(
            [m.facility, m.severity, m.ts, m.hostname, m.app, m.procid, m.msgid, JSON.stringify(m.sd ?? {}), m.msg],
            [pri >> 3, pri & 7, ts, host, app, procid, msgid, JSON.stringify(elements), msg],
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});
