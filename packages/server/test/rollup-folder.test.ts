/**
 * The rollup folder (store/rollups.ts) counts each (minute, component, level) and (minute,
 * component, key) of any run of events exactly as a count of each event on its own would, whatever
 * the order of components and minutes: runs, interleavings and a minute that changes under one
 * component.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MINUTE_MS, RollupFolder } from '../src/store/rollups.ts';

const few = <T>(...xs: T[]) => fc.constantFrom(...xs);
const eventArb = fc.record({
  minute: few(0, 1, 2),
  component: few<string | null>(null, '', 'api', 'db'),
  level: few<string | null>(null, 'info', 'error'),
  key: few('stdout', 'status'),
});

test('levels and keys are counted per minute and component, over runs and interleavings of both', () => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 60 }), (events) => {
      const folder = new RollupFolder();
      const levels = new Map<string, number>();
      const keys = new Map<string, number>();
      for (const e of events) {
        // A new string per event, as a batch without repeated fields would give.
        const component = e.component === null ? null : ` ${e.component}`.slice(1);
        folder.add(e.minute * MINUTE_MS + 5, component, e.level, e.key, 'x', 0);
        const at = `${e.minute}|${e.component ?? ''}`;
        levels.set(`${at}|${e.level ?? ''}`, (levels.get(`${at}|${e.level ?? ''}`) ?? 0) + 1);
        keys.set(`${at}|${e.key}`, (keys.get(`${at}|${e.key}`) ?? 0) + 1);
      }
      const rows = folder.rows();
      assert.deepEqual(new Map(rows.levels.map(([m, c, l, n]) => [`${m}|${c}|${l}`, n])), levels);
      assert.deepEqual(new Map(rows.keys.map(([m, c, k, n]) => [`${m}|${c}|${k}`, n])), keys);
      assert.equal(folder.empty, events.length === 0);
    }),
    { numRuns: 500 },
  );
});
