/**
 * Loads the OpenCV binding (@u4/opencv4nodejs) once. Its require() prints info lines on stdout,
 * which would corrupt `--json` output, so stdout writes are swallowed while it loads.
 */
import type * as CV from '@u4/opencv4nodejs';

let cvModule: typeof CV | undefined;

export function cv(): typeof CV {
  if (cvModule) return cvModule;
  // The binding's external-memory tracking calls into V8 during garbage collection and aborts Node 20
  // ("Check failed: marking_done_", opencv4nodejs issues #134/#148); facestream frees Mats itself.
  process.env.OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING ??= '1';
  // The binding is built against Debian's OpenCV (scripts/setup.sh); without this its loader looks for an
  // opencv-build auto-build record and refuses to load a binding restored from the set-up cache.
  process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
  const write = process.stdout.write;
  const log = console.log;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  console.log = () => undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('@u4/opencv4nodejs');
    cvModule = (mod.default ?? mod) as typeof CV;
  } catch (err) {
    throw new Error(
      `cannot load the OpenCV binding @u4/opencv4nodejs (${(err as Error).message}); ` +
        'run `npm run setup`, which builds it against Debian libopencv-dev',
    );
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
  return cvModule;
}
