/** The Bot Framework channelId of e-mail activities and tickets. */
export const EMAIL_CHANNEL_ID = 'email';
