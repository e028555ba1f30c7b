// The same shared/ cases as test/node/shared, run inside workerd: shared/ must behave identically there.
import { cacheKeyCases } from "../../node/shared/cache-key.cases";
import { errorCases } from "../../node/shared/errors.cases";
import { hmacCases } from "../../node/shared/hmac.cases";

cacheKeyCases();
hmacCases();
errorCases();
