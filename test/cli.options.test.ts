// The CLI's flag parsers: one `--listen` grammar for every server.

import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';

import { listenArg } from '../src/cli/options.js';

describe('--listen', () => {
  it('takes HOST:PORT, [IPv6]:PORT, :PORT and PORT; the host defaults to loopback', () => {
    expect(listenArg('127.0.0.1:7000')).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(listenArg('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(listenArg('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
    expect(listenArg(':7001')).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(listenArg('7002')).toEqual({ host: '127.0.0.1', port: 7002 });
  });

  it('refuses everything else with a message that shows the forms', () => {
    for (const bad of ['', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:123456', '::1:7000', '[::1]', 'host:port', '1.2.3.4:-1', 'a:b:7000']) {
      expect(() => listenArg(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => listenArg('x')).toThrow(/HOST:PORT, \[IPv6\]:PORT or PORT/);
  });
});
