/**
 * Camera names: the only way a camera is named in logs, metric labels and alerts (its URL can carry
 * credentials and is never used as a label). Restricted to a label-safe set, so a URL pasted by mistake
 * as a name is rejected.
 */
export const CAMERA_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const CAMERA_NAME_EXPECTED = 'expected a camera name of 1-64 characters A-Z a-z 0-9 _ . - (starting with a letter or digit)';
