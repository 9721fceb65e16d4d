/**
 * npm run -s user:add -- --username <name> --password <pw> --role admin|trainer|agent
 *   (or --password-stdin: read the password from standard input, keeping it out of shell history)
 *
 * Creates a staff account in the configured database (MONGODB_URI, or the embedded server: joins
 * the one `npm start` runs, or starts it for the moment). This is how the first admin is made;
 * there is no default password. Prints `{"username","role","created":true}` on stdout.
 */
import { readFileSync } from 'node:fs';
import { createServices } from '../desk/services.js';
import { loadConfig } from '../runtime/config.js';
import { ROLES, type Role } from '../store/schemas.js';
import { flags, printJson, runCli, stderrLog, UsageError } from './cli.js';

runCli(async () => {
  const { values } = flags({
    username: { type: 'string' },
    password: { type: 'string' },
    'password-stdin': { type: 'boolean', default: false },
    role: { type: 'string' },
  });
  if (!values.username) throw new UsageError('--username is required');
  if (!values.role || !(ROLES as readonly string[]).includes(values.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  if (values.password !== undefined && values['password-stdin']) throw new UsageError('give --password or --password-stdin, not both');
  const password = values['password-stdin'] ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : values.password;
  if (password === undefined) throw new UsageError('--password (or --password-stdin) is required');

  // The classifier is not needed to add a user: the services without the model side.
  const services = await createServices(loadConfig(process.env), { log: stderrLog(), models: false });
  try {
    const user = await services.auth.createUser({ username: values.username, password, role: values.role as Role, createdBy: 'cli' });
    printJson({ username: user.username, role: user.role, created: true });
  } finally {
    await services.close();
  }
});
