import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const script = path.join(__dirname, '..', '..', '..', 'devhost', 'build', 'buildIfStale.cjs');

describe('buildIfStale (npm start’s build step)', () => {
  let project: string;
  const build = () => {
    const run = spawnSync(process.execPath, [script, project], { encoding: 'utf8' });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  };
  const later = (file: string, byMs: number) => {
    const t = new Date(statSync(path.join(project, 'dist', '.build-stamp')).mtimeMs + byMs);
    utimesSync(file, t, t);
  };

  beforeEach(() => {
    project = mkdtempSync(path.join(tmpdir(), 'devhost-build-'));
    mkdirSync(path.join(project, 'src'));
    writeFileSync(
      path.join(project, 'tsconfig.build.json'),
      JSON.stringify({
        compilerOptions: {
          outDir: 'dist',
          rootDir: '.',
          module: 'commonjs',
          strict: true,
          incremental: true,
          tsBuildInfoFile: 'dist/.tsbuildinfo',
          types: [],
        },
        include: ['src'],
      }),
    );
    writeFileSync(path.join(project, 'src', 'a.ts'), 'export const a: number = 1;\n');
  });

  afterEach(() => rmSync(project, { recursive: true, force: true }));

  it('compiles the first time, skips tsc when nothing changed, and compiles again after an edit', () => {
    const first = build();
    expect(first).toEqual({ status: 0, output: expect.stringContaining('build: compiled') });
    expect(existsSync(path.join(project, 'dist', 'src', 'a.js'))).toBe(true);

    expect(build()).toEqual({ status: 0, output: expect.stringContaining('up to date, tsc skipped') });

    writeFileSync(path.join(project, 'src', 'a.ts'), 'export const a: number = 2;\n');
    later(path.join(project, 'src', 'a.ts'), 1000);
    expect(build().output).toContain('build: compiled');
    expect(build().output).toContain('up to date');
  });

  it('compiles again when a file is added (the directory changed) or the tsconfig changed', () => {
    build();
    writeFileSync(path.join(project, 'src', 'b.ts'), 'export const b = 1;\n');
    later(path.join(project, 'src'), 1000);
    later(path.join(project, 'src', 'b.ts'), 1000);
    expect(build().output).toContain('build: compiled');
    expect(existsSync(path.join(project, 'dist', 'src', 'b.js'))).toBe(true);

    later(path.join(project, 'tsconfig.build.json'), 1000);
    expect(build().output).toContain('build: compiled');
  });

  it('fails with tsc’s status on a type error and does not leave a stamp that would skip the next build', () => {
    build();
    writeFileSync(path.join(project, 'src', 'a.ts'), 'export const a: number = "no";\n');
    later(path.join(project, 'src', 'a.ts'), 1000);
    const failed = build();
    expect(failed.status).not.toBe(0);
    expect(failed.output).toContain('TS2322');
    expect(existsSync(path.join(project, 'dist', '.build-stamp'))).toBe(false);
    expect(build().status).not.toBe(0); // still failing, not skipped
  });
});
