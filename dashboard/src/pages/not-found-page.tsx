import { Link } from "react-router";
import { PageHeader } from "../components/page-header.js";

/** Any URL the dashboard does not know. */
export function NotFoundPage() {
  return (
    <div>
      <PageHeader title="Page not found" />
      <p>
        Nothing lives at this address.{" "}
        <Link className="link" to="/">
          Go to the overview
        </Link>
        .
      </p>
    </div>
  );
}
