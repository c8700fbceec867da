// Layout URLs (parseStoreUrl): what each form names, and ERR_BAD_REQUEST
// naming the part at fault for every malformed one. Pure: nothing is opened.

import { resolve } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseStoreUrl } from '../src/layout/index.js';
import { throwsWith } from './helpers/expect-error.js';

describe('parseStoreUrl', () => {
  it('file:DIR, relative or absolute, and file:///abs', () => {
    expect(parseStoreUrl('file:.corfu/layout')).toEqual({ kind: 'file', dir: resolve('.corfu/layout') });
    expect(parseStoreUrl('file:/var/lib/corfu')).toEqual({ kind: 'file', dir: '/var/lib/corfu' });
    expect(parseStoreUrl('file:///var/lib/corfu')).toEqual({ kind: 'file', dir: '/var/lib/corfu' });
  });

  it('etcd://HOST:PORT[,HOST:PORT...]/PREFIX', () => {
    expect(parseStoreUrl('etcd://127.0.0.1:2379/corfu')).toEqual({ kind: 'etcd', endpoints: ['127.0.0.1:2379'], prefix: 'corfu' });
    expect(parseStoreUrl('etcd://a.example:2379,b.example:2379,[::1]:2379/corfu/prod-1/')).toEqual({
      kind: 'etcd',
      endpoints: ['a.example:2379', 'b.example:2379', '[::1]:2379'],
      prefix: 'corfu/prod-1',
    });
  });

  it.each([
    ['etcd:127.0.0.1:2379/corfu', /expected etcd:\/\/HOST:PORT/],
    ['etcd:///corfu', /no etcd endpoints/],
    ['etcd://127.0.0.1:2379', /no key prefix/],
    ['etcd://127.0.0.1:2379/', /no key prefix/],
    ['etcd://127.0.0.1/corfu', /endpoint '127\.0\.0\.1' has no port/],
    ['etcd://127.0.0.1:0/corfu', /endpoint '127\.0\.0\.1:0' has an invalid port '0'/],
    ['etcd://127.0.0.1:70000/corfu', /invalid port '70000'/],
    ['etcd://127.0.0.1:2379x/corfu', /invalid port '2379x'/],
    ['etcd://bad_host:2379/corfu', /invalid host 'bad_host'/],
    ['etcd://a:1,,b:2/corfu', /an empty endpoint/],
    ['etcd://a:1,a:1/corfu', /listed twice/],
    ['etcd://::1:2379/corfu', /has no port.*IPv6 as \[ADDR\]:PORT/],
    ['etcd://user:pw@a:1/corfu', /credentials in the URL are not supported/],
    ['etcd://a:1/corfu?tls=1', /query strings and fragments are not supported/],
    ['etcd://a:1/corfu//x', /key prefix 'corfu\/\/x' has an invalid segment ''/],
    ['etcd://a:1/corfu/../x', /invalid segment '\.\.'/],
    ['etcd://a:1/cor fu', /invalid segment 'cor fu'/],
    ['file:', /no directory given/],
    ['', /URL is empty/],
    ['/var/lib/corfu', /did you mean file:\/var\/lib\/corfu/],
    ['zk://a:1/corfu', /unsupported scheme zk:/],
  ])('%s is ERR_BAD_REQUEST naming the part at fault', (url, message) => {
    const err = throwsWith(() => parseStoreUrl(url), 'ERR_BAD_REQUEST');
    expect(err.message).toMatch(message);
    if (url !== '') expect(err.message).toContain(url);
  });
});
