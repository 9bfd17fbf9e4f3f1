/**
 * Cameras: POST /cameras, GET /cameras, GET/PATCH/DELETE /cameras/:name, GET /cameras/:name/status.
 * Admin and operator write, every role reads. URLs are checked here (cameras/url.ts: rtsp, rtsps, http, https; a
 * host; a port 1..65535) with messages that show them masked, and every answer shows them masked: the stored
 * credentials are never returned. (The URL check runs in the handler, not in the zod schema, so that no generic
 * "got <value>" text can ever quote a URL.)
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CameraSchema, type CameraConfig } from '../../config/schema';
import { CAMERA_NAME_EXPECTED, CAMERA_NAME_PATTERN } from '../../config/names';
import type { ApiContext } from '../context';
import { OPERATOR_ROLES, READ_ROLES } from '../context';
import { ApiError, badRequest, notFound } from '../errors';
import type { CameraRegistry } from '../cameras/registry';
import { API_CAMERA_URL_EXPECTED, cameraUrlProblem } from '../cameras/url';
import { ErrorSchema } from '../validation';

const shape = CameraSchema.shape;
const Name = z.string({ error: CAMERA_NAME_EXPECTED }).regex(CAMERA_NAME_PATTERN, { error: CAMERA_NAME_EXPECTED });
/** Checked in the handler (cameraUrlProblem) so the message shows the URL masked. */
const Url = z.string({ error: API_CAMERA_URL_EXPECTED }).describe(`${API_CAMERA_URL_EXPECTED}; may hold user:password@ (stored, never returned)`);
const Settings = {
  fps: shape.fps.unwrap().describe('analysis frames per second (default 5)'),
  maxWidth: shape.maxWidth.unwrap().describe('frames are decoded at most this wide (default 1280)'),
  transport: shape.transport.unwrap().describe('RTSP transport (default tcp)'),
  enabled: shape.enabled.unwrap().describe('run it (default true)'),
  hwaccel: shape.hwaccel.unwrap().describe('ffmpeg hardware decoding (default none)'),
};

export const CameraCreateBody = z.strictObject({
  name: Name,
  url: Url,
  fps: Settings.fps.optional(),
  maxWidth: Settings.maxWidth.optional(),
  transport: Settings.transport.optional(),
  enabled: Settings.enabled.optional(),
  hwaccel: Settings.hwaccel.optional(),
});
export const CameraPatchBody = z
  .strictObject({
    url: Url.optional(),
    fps: Settings.fps.optional(),
    maxWidth: Settings.maxWidth.optional(),
    transport: Settings.transport.optional(),
    enabled: Settings.enabled.optional(),
    hwaccel: Settings.hwaccel.optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { error: 'expected at least one of url, fps, maxWidth, transport, enabled, hwaccel' });
const NameParams = z.strictObject({ name: Name });

export const CameraViewSchema = z.object({
  name: z.string(),
  url: z.string().describe('the URL with credentials masked (rtsp://***@host/…)'),
  hasCredentials: z.boolean(),
  fps: z.number(),
  maxWidth: z.number(),
  transport: z.string(),
  enabled: z.boolean(),
  hwaccel: z.string(),
  updatedAt: z.string(),
});
export const CameraStatusSchema = z.object({
  camera: z.string(),
  state: z.enum(['idle', 'connecting', 'online', 'offline', 'ended', 'stopped', 'disabled']),
  online: z.boolean(),
  fps: z.number().describe('frames per second decoded over the last seconds'),
  lastFrameAt: z.string().nullable(),
  lastError: z.string().nullable().describe('the last failure, credentials masked'),
  frames: z.number(),
  reconnects: z.number(),
  updatedAt: z.string(),
});

function registry(ctx: ApiContext): CameraRegistry {
  if (!ctx.cameras) throw new ApiError(503, 'unavailable', 'cameras are not available yet: the cameras topic cannot be reached (Kafka); see /readyz');
  return ctx.cameras;
}

function checkUrl(url: string | undefined): void {
  if (url === undefined) return;
  const problem = cameraUrlProblem(url);
  if (problem) throw badRequest(`body.url: ${problem}`, 'url');
}

const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema };

export function registerCameraRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post(
    '/cameras',
    { config: { roles: OPERATOR_ROLES }, schema: { tags: ['cameras'], summary: 'Add a camera by URL', body: CameraCreateBody, response: { 201: CameraViewSchema, 409: ErrorSchema, ...errors } } },
    async (req, reply) => {
      const body = req.body as z.infer<typeof CameraCreateBody>;
      checkUrl(body.url);
      const camera: CameraConfig = CameraSchema.parse(body);
      const view = await registry(ctx).create(camera);
      return reply.code(201).send(view);
    },
  );

  app.get(
    '/cameras',
    { config: { roles: READ_ROLES }, schema: { tags: ['cameras'], summary: 'List the cameras (URLs masked)', response: { 200: z.object({ cameras: z.array(CameraViewSchema) }), ...errors } } },
    async () => ({ cameras: await registry(ctx).list() }),
  );

  app.get(
    '/cameras/:name',
    { config: { roles: READ_ROLES }, schema: { tags: ['cameras'], summary: 'One camera (URL masked)', params: NameParams, response: { 200: CameraViewSchema, ...errors } } },
    async (req) => {
      const { name } = req.params as z.infer<typeof NameParams>;
      const view = await registry(ctx).get(name);
      if (!view) throw notFound(`no camera named "${name}"`, 'name');
      return view;
    },
  );

  app.patch(
    '/cameras/:name',
    {
      config: { roles: OPERATOR_ROLES },
      schema: { tags: ['cameras'], summary: 'Change a camera (fields not sent keep their value, the URL too)', params: NameParams, body: CameraPatchBody, response: { 200: CameraViewSchema, ...errors } },
    },
    async (req) => {
      const { name } = req.params as z.infer<typeof NameParams>;
      const body = req.body as z.infer<typeof CameraPatchBody>;
      checkUrl(body.url);
      return registry(ctx).update(name, body);
    },
  );

  app.delete(
    '/cameras/:name',
    { config: { roles: OPERATOR_ROLES }, schema: { tags: ['cameras'], summary: 'Remove a camera (it stops)', params: NameParams, response: { 204: z.null(), ...errors } } },
    async (req, reply) => {
      const { name } = req.params as z.infer<typeof NameParams>;
      if (!(await registry(ctx).remove(name))) throw notFound(`no camera named "${name}"`, 'name');
      return reply.code(204).send();
    },
  );

  app.get(
    '/cameras/:name/status',
    {
      config: { roles: READ_ROLES },
      schema: { tags: ['cameras'], summary: 'Whether the camera delivers frames: online, fps, last frame, last error', params: NameParams, response: { 200: CameraStatusSchema, ...errors } },
    },
    async (req) => {
      const { name } = req.params as z.infer<typeof NameParams>;
      const status = await registry(ctx).status(name);
      if (!status) throw notFound(`no camera named "${name}"`, 'name');
      return status;
    },
  );
}
