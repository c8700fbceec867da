// ESLint (npm run lint): typescript-eslint's type-aware rules over every TypeScript file
// (the program is tsconfig.eslint.json: src, bindings, bench, test and the root configs);
// formatting is prettier's (eslint-config-prettier turns off the rules it owns).

import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Generated or built: compiled output, the napi-generated declarations, reports.
    ignores: ['dist/', 'dist-*/', 'native/target/', 'bindings/native/', 'node_modules/', 'reports/', '.stryker-tmp/', 'mutants.out/', 'mutants.out.old/', '.corfu/'],
  },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.eslint.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A leading _ marks a parameter or a destructured field left unused on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // Implementations of Promise-returning interfaces (stores, fakes, the simulated engine) stay async without an await, so a throw in one is a rejection like in the others.
      '@typescript-eslint/require-await': 'off',
      // Wrappers forward a rejection reason as they received it (a catch's unknown), Error or not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // The wire decoder throws a private Malformed marker (no stack to capture) that decodeFrame itself catches and turns into a protocol error.
      '@typescript-eslint/only-throw-error': ['error', { allow: [{ from: 'file', name: 'Malformed', path: 'src/wire/codec.ts' }] }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // vitest's asymmetric matchers (expect.any, expect.stringMatching, expect.objectContaining) are typed any.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    // The child-process and worker fixtures are plain JavaScript that imports the built
    // dist/: no types to check them with.
    files: ['**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
  prettier,
);
