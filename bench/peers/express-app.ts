/**
 * Peer "express": what a user would write without Nest. Plain Express 5 + express-session +
 * passport-local + the store library users pick (connect-redis, or connect-pg-simple with
 * PEER_STORE=postgres: see peer-store.ts), with the session settings our app uses (cookie `sid`,
 * signed with SESSION_SECRET, HttpOnly, SameSite=Lax, 30 min idle, saveUninitialized and resave
 * off), logging in against the same users table. Only what the benchmark calls: login, whoami,
 * health.
 */
import argon2 from 'argon2';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import pg from 'pg';
import { peerStore } from './peer-store.js';

interface User {
  id: string;
  username: string;
  displayName: string;
}

const env = process.env;
const replica = env.REPLICA_NAME ?? 'express';
const peer = env.PEER_NAME ?? 'express';

const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 5 });
const sessions = await peerStore(env, db);

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
passport.serializeUser((user, done) => {
  done(null, user);
});
passport.deserializeUser((user: User, done) => {
  done(null, user);
});

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
    store: sessions.store,
    saveUninitialized: false,
    resave: false,
    // The app's idle timeout, as the bench sets it for every replica (3 h: a full run's last
    // measurements come over half an hour after its logins); 30 min as in the app otherwise.
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: 'auto',
      maxAge: Number(env.SESSION_IDLE_TIMEOUT ?? 30 * 60) * 1000,
      path: '/',
    },
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
    store: sessions.name,
    profile: peer,
  });
});

const server = app.listen(Number(env.PORT ?? 3000), env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => {
    void Promise.allSettled([sessions.close(), db.end()]).then(() => process.exit(0));
  });
  server.closeAllConnections();
});
