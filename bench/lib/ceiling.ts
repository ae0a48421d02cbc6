// The tools' own ceiling, measured against bench/lib/sink.ts (a fake broker that answers
// CONNACK/SUBACK and forwards publishes without parsing them), shown in --help.
export const CEILING_LOADTEST = 'not measured yet';
export const CEILING_PINGTEST = 'not measured yet';
export const CEILING_MANY = 'not measured yet';
