/**
 * Peer "express": what a user would write without Nest. Plain Express 5 + express-session +
 * connect-redis + passport-local, with the session settings our app uses (cookie `sid`, signed
 * with SESSION_SECRET, HttpOnly, SameSite=Lax, 30 min idle, saveUninitialized and resave off,
 * keys `sess:<id>` in the same Redis), logging in against the same users table. PEER_TOUCH=off
 * sets connect-redis' disableTouch, which makes a read one GET like ours; "on" is its default
 * (GET + EXPIRE per read). Only what the benchmark calls: login, whoami, health.
 */
import argon2 from 'argon2';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import pg from 'pg';
import { createClient } from 'redis';

interface User {
  id: string;
  username: string;
  displayName: string;
}

const env = process.env;
const replica = env.REPLICA_NAME ?? 'express';
const peer = env.PEER_NAME ?? 'express';

const redis = createClient({ url: env.REDIS_URL, disableOfflineQueue: true });
redis.on('error', (err: Error) => console.error(`redis: ${err.message}`));
await redis.connect();
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 5 });

passport.use(
  new LocalStrategy((username, password, done) => {
    db.query<{ id: string; username: string; display_name: string; password_hash: string }>(
      'SELECT id, username, display_name, password_hash FROM users WHERE lower(username) = lower($1)',
      [username],
    )
      .then(async ({ rows: [row] }) => {
        const ok = row ? await argon2.verify(row.password_hash, password) : false;
        done(
          null,
          ok && row ? { id: row.id, username: row.username, displayName: row.display_name } : false,
        );
      })
      .catch(done);
  }),
);
// The whole user goes into the session, as in our app: a read needs no database.
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user: User, done) => done(null, user));

const app = express();
app.disable('x-powered-by');
app.set('trust proxy', 'loopback');
app.use((_req, res, next) => {
  res.setHeader('X-Served-By', replica);
  next();
});
app.get('/health/ready', (_req, res) => {
  res.json({ status: 'ok' });
});
app.use(express.json({ limit: '16kb' }));
app.use(
  session({
    name: 'sid',
    secret: (env.SESSION_SECRET ?? '').split(','),
    store: new RedisStore({
      client: redis,
      prefix: 'sess:',
      disableTouch: env.PEER_TOUCH === 'off',
    }),
    saveUninitialized: false,
    resave: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 30 * 60_000, path: '/' },
  }),
);
app.use(passport.session());

app.post(
  '/api/auth/login',
  passport.authenticate('local') as express.RequestHandler,
  (req, res) => {
    res.json({ user: req.user });
  },
);
app.get('/api/whoami', (req, res) => {
  const user = req.isAuthenticated() ? req.user : undefined;
  res.json({
    authenticated: !!user,
    ...(user ? { user } : {}),
    servedBy: replica,
    store: 'redis',
    profile: peer,
  });
});

const server = app.listen(Number(env.PORT ?? 3000), env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => {
    void Promise.allSettled([redis.close(), db.end()]).then(() => process.exit(0));
  });
  server.closeAllConnections();
});
