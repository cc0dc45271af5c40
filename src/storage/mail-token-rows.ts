// The one-time mail tokens' statements' shared pieces (both engines).

export interface SpentTokenRecord {
  namespace: string;
  user_id: string;
  email: string;
  redirect_url: string;
}
