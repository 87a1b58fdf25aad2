import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineJoiner, outputPiece, screenLine } from '../src/terminal-line.ts';

const ESC = '\u001b';

test('screenLine shows a line the way a terminal draws it', () => {
  const cases: [string, string, string][] = [
    ['plain text is unchanged', 'hello world', 'hello world'],
    ['colours alone are unchanged', `${ESC}[32mok${ESC}[0m done`, `${ESC}[32mok${ESC}[0m done`],
    ['a progress bar redrawn with \\r shows its last state', '\rprogress 10%\rprogress 50%\rprogress 100%', 'progress 100%'],
    ['a trailing \\r changes nothing on screen', 'progress 10%\r', 'progress 10%'],
    ['a shorter redraw overwrites only its own columns', 'abcdef\rXY', 'XYcdef'],
    ['erase to the end of the line (CSI K) after \\r', `downloading 10%\r${ESC}[Kdone`, 'done'],
    ['erase the whole line (CSI 2K) keeps the cursor column', `abcdef${ESC}[2K\rxy`, 'xy'],
    ['backspace spinners', 'working |\b/\b-\b\\', 'working \\'],
    ['cursor to column 1 (CSI G) then overwrite', `50%${ESC}[1G99%`, '99%'],
    ['cursor back (CSI D) then overwrite', `abc${ESC}[2DX`, 'aXc'],
    ['a redrawn coloured word keeps the colour it was written with', `${ESC}[31mFAIL${ESC}[0m\r${ESC}[32mPASS${ESC}[0m`, `${ESC}[32mPASS${ESC}[0m`],
    ['colours of cells left from an earlier state stay theirs', `${ESC}[31mabcd${ESC}[0m\rXY`, `XY${ESC}[31mcd${ESC}[0m`],
    ['other escape sequences of a redrawn line are dropped', `${ESC}[?25l\rok${ESC}[?25h`, 'ok'],
    ['a surrogate pair is one cell', '😀x\rab', 'ab'],
    ['moving past the end pads with spaces', `a${ESC}[3Cb\r`, 'a   b'],
  ];
  for (const [what, raw, want] of cases) assert.equal(screenLine(raw), want, what);
});

test('a colour left open at the end of the line stays open, as in a terminal', () => {
  assert.equal(screenLine(`x\r${ESC}[31mred`), `${ESC}[31mred`);
});

test('outputPiece reads partial pieces, and the cr segments of older agents, as pieces of a line', () => {
  assert.deepEqual(outputPiece({ value: 'a' }), { text: 'a', open: false });
  assert.deepEqual(outputPiece({ value: 'Password: ', attrs: { partial: true } }), { text: 'Password: ', open: true });
  assert.deepEqual(outputPiece({ value: '10%', attrs: { cr: true } }), { text: '10%\r', open: true });
  assert.deepEqual(outputPiece({ value: { n: 1 } }), { text: '{"n":1}', open: false });
});

test('LineJoiner joins pieces into lines, in order', () => {
  const lines: string[] = [];
  const j = new LineJoiner((l) => lines.push(l));
  j.push({ value: '\rprogress 10%', attrs: { partial: true } });
  assert.equal(j.open, '\rprogress 10%');
  j.push({ value: '\rprogress 100%' });
  j.push({ value: 'Password: ', attrs: { partial: true } });
  j.push({ value: 'ok' });
  assert.equal(j.open, null);
  assert.deepEqual(lines.map(screenLine), ['progress 100%', 'Password: ok']);
});
