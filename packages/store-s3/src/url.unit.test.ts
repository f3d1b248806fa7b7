import { isStrandError } from '@strand/core';
import { describe, expect, it } from 'vitest';
import { parseS3Url } from './url.js';

describe('s3:// URLs', () => {
  it('parse bucket, prefix and options', () => {
    expect(parseS3Url('s3://b/logs/orders?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1&readOnly=true&flushIntervalMs=0&durability=buffered')).toEqual({
      bucket: 'b',
      prefix: 'logs/orders/',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      readOnly: true,
      flushIntervalMs: 0,
      durability: 'buffered',
    });
    expect(parseS3Url('s3://b').prefix).toBe('');
  });

  it('refuse bad ones with a typed error naming the fix', () => {
    for (const bad of ['nope', 'http://b/x', 's3://b/x?color=red', 's3://b/x?flushIntervalMs=-1', 's3://b/x?durability=maybe']) {
      let error: unknown;
      try {
        parseS3Url(bad);
      } catch (e) {
        error = e;
      }
      expect(isStrandError(error, 'STRAND_INVALID_ARGUMENT'), bad).toBe(true);
    }
  });
});
