/**
 * Environment variable substitution in OTEL_CONFIG_FILE, case by case from the
 * table in the specification (configuration/data-model.md), through the YAML
 * reader so that the typing after substitution is checked too.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText, FileError } from '../../src/config/file/parse';

const ENV = {
  STRING_VALUE: 'value',
  BOOL_VALUE: 'true',
  INT_VALUE: '1',
  FLOAT_VALUE: '1.1',
  HEX_VALUE: '0xdeadbeef',
  INVALID_MAP_VALUE: 'value\nkey:value',
  DO_NOT_REPLACE_ME: 'Never use this value',
  REPLACE_ME: '${DO_NOT_REPLACE_ME}',
  VALUE_WITH_ESCAPE: 'value$$',
};
const value = (yaml: string): unknown => (parseConfigText(yaml, ENV).data as Record<string, unknown>).key;

describe('OTEL_CONFIG_FILE environment variable substitution (the specification table)', () => {
  it.each([
    ['key: ${STRING_VALUE}', 'value'],
    ['key: ${BOOL_VALUE}', true],
    ['key: ${INT_VALUE}', 1],
    ['key: ${FLOAT_VALUE}', 1.1],
    ['key: ${HEX_VALUE}', 3735928559],
    ['key: "${STRING_VALUE}"', 'value'],
    ['key: "${BOOL_VALUE}"', 'true'],
    ['key: "${INT_VALUE}"', '1'],
    ['key: "${FLOAT_VALUE}"', '1.1'],
    ['key: "${HEX_VALUE}"', '0xdeadbeef'],
    ['key: ${env:STRING_VALUE}', 'value'],
    ['key: ${INVALID_MAP_VALUE}', 'value\nkey:value'],
    ['key: foo ${STRING_VALUE} ${FLOAT_VALUE}', 'foo value 1.1'],
    ['key: ${UNDEFINED_KEY}', null],
    ['key: ${UNDEFINED_KEY:-fallback}', 'fallback'],
    ['key: ${REPLACE_ME}', '${DO_NOT_REPLACE_ME}'],
    ['key: ${UNDEFINED_KEY:-${STRING_VALUE}}', '${STRING_VALUE}'],
    ['key: $${STRING_VALUE}', '${STRING_VALUE}'],
    ['key: $$${STRING_VALUE}', '$value'],
    ['key: $$$${STRING_VALUE}', '$${STRING_VALUE}'],
    ['key: $${STRING_VALUE:-fallback}', '${STRING_VALUE:-fallback}'],
    ['key: $${STRING_VALUE:-${STRING_VALUE}}', '${STRING_VALUE:-value}'],
    ['key: ${UNDEFINED_KEY:-$${UNDEFINED_KEY}}', '${UNDEFINED_KEY:-${UNDEFINED_KEY}}'],
    ['key: ${VALUE_WITH_ESCAPE}', 'value$$'],
    ['key: a $$ b', 'a $ b'],
    ['key: a $ b', 'a $ b'],
  ])('%s', (yaml, expected) => {
    expect(value(yaml)).toEqual(expected);
  });

  it('leaves keys alone', () => {
    expect(parseConfigText('${STRING_VALUE}: value', ENV).data).toEqual({ '${STRING_VALUE}': 'value' });
  });

  it('rejects the whole file on an invalid reference, naming its line', () => {
    expect(() => parseConfigText('a: 1\nkey: ${STRING_VALUE:?error}\n', ENV)).toThrow(FileError);
    expect(() => parseConfigText('a: 1\nkey: ${STRING_VALUE:?error}\n', ENV)).toThrow(/line 2: invalid substitution reference \$\{STRING_VALUE:\?error\}/);
    expect(() => parseConfigText('key: ${1API_KEY}', ENV)).toThrow(FileError);
  });
});
